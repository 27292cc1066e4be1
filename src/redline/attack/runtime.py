"""What a worker needs to run attacks: picklable recipes for targets and the scorer.

Why recipes and not objects: a loaded llama.cpp model cannot cross a process boundary,
so the main process sends *how to build* targets and the scorer (small frozen
dataclasses) and every worker process builds them once and keeps them
(:func:`cached`). In the main process the same recipes build the same objects, so
sequential, thread, process-pool and Ray runs share one code path.
"""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from redline.attack.scoring import ScorerFactory
from redline.config import Settings
from redline.errors import NotFoundError
from redline.targets.base import Scorer, TargetInfo, TargetModel

T = TypeVar("T")

_cache_lock = threading.RLock()
_cache: dict[bytes, Any] = {}


def cached(recipe: Any, build: Callable[[], T]) -> T:
    """One built object per equal recipe per process (keyed by the recipe's pickle)."""
    key = pickle.dumps(recipe)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


def clear_cache() -> None:
    """Forget built targets and scorers (tests)."""
    with _cache_lock:
        _cache.clear()


class TargetFactory(Protocol):
    """Builds named targets; ``info`` answers without loading any model."""

    def info(self, name: str) -> TargetInfo: ...

    def __call__(self, name: str) -> TargetModel: ...


@dataclass(frozen=True)
class RegistryTargets:
    """Targets from the registry (``redline targets``), optionally with shorter replies.

    ``max_tokens`` overrides the reply length of the built target (the study uses short
    replies to fit its time budget); rejection-sampling targets get the same scorer the
    attack code scores with, so one PM is loaded per process, not two.
    """

    settings: Settings
    scorer: ScorerFactory
    max_tokens: int | None = None

    def info(self, name: str) -> TargetInfo:
        from redline.targets.registry import target_definitions

        definitions = target_definitions(self.settings)
        if name not in definitions:
            raise NotFoundError(
                f"unknown target {name!r}; `redline targets` lists the {len(definitions)} "
                "available ones"
            )
        return definitions[name].info

    def __call__(self, name: str) -> TargetModel:
        return cached(("target", self, name), lambda: self._build(name))

    def _build(self, name: str) -> TargetModel:
        from redline.targets.defences import needs_scorer
        from redline.targets.registry import build_target

        info = self.info(name)  # a clear NotFoundError before anything loads
        scorer = cached(self.scorer, self.scorer) if needs_scorer(info.defence) else None
        target = build_target(name, self.settings, scorer=scorer)
        if self.max_tokens is None:
            return target
        return with_max_tokens(target, self.max_tokens)


def with_max_tokens(target: TargetModel, max_tokens: int) -> TargetModel:
    """A shallow copy of a registry target whose replies stop after ``max_tokens``.

    The copy shares the loaded backend; the registry's cached target is left unchanged.
    """
    clone = copy.copy(target)
    inner = getattr(clone, "prompted", None)
    if inner is not None:  # rejection sampling wraps a prompted target
        inner = copy.copy(inner)
        inner.max_tokens = max_tokens
        clone.prompted = inner  # type: ignore[attr-defined]
    elif hasattr(clone, "max_tokens"):
        clone.max_tokens = max_tokens
    return clone


@dataclass(frozen=True)
class Runtime:
    """Everything a worker needs: how to build targets and the scorer, and how many
    candidate replies each turn stores (the first continues the conversation)."""

    targets: TargetFactory
    scorer: ScorerFactory
    candidates: int = 2

    def target(self, name: str) -> TargetModel:
        return self.targets(name)

    def reply_scorer(self) -> Scorer:
        return cached(self.scorer, self.scorer)
