"""How attack code scores replies: a function passed in, never a hard-wired model.

Why a protocol and factories: replay, automated attacks and the study must score every
reply with the harmlessness preference model, but flow tests need a deterministic judge,
and worker processes (``--workers``, ``--ray``) must build their own scorer from a
picklable recipe instead of receiving a loaded model. A :class:`ReplyScorer` is anything
with ``identity`` (stored as ``scored_by`` so judges never mix) and ``score_batch``; the
harmlessness PM (``PreferenceModelScorer``) already is one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from redline.config import Settings
from redline.targets.base import Conversation


@runtime_checkable
class ReplyScorer(Protocol):
    """Harmlessness of replies given the conversation before them; lower = more harmful.

    ``score_batch`` returns one float per reply, NaN for a reply it cannot score (empty).
    """

    identity: str

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]: ...


class ScorerFactory(Protocol):
    """A picklable recipe that builds a :class:`ReplyScorer` inside any process."""

    def __call__(self) -> ReplyScorer: ...


@dataclass(frozen=True)
class DefaultPM:
    """The harmlessness preference model: ``pm_path`` or the configured default.

    Imported lazily: building the recipe costs nothing, only calling it loads the PM.
    """

    settings: Settings
    pm_path: Path | None = None

    def __call__(self) -> ReplyScorer:
        from redline.harmlessness import PreferenceModelScorer, default_pm_path

        path = self.pm_path or default_pm_path(self.settings)
        scorer: ReplyScorer = PreferenceModelScorer.from_file(
            path, cache_dir=self.settings.cache_dir / "features"
        )
        return scorer


_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class KeywordScorer:
    """A deterministic stand-in judge for flow tests: each listed word costs one point.

    Never used for measurements; it exists so tests of replay, linking and statistics can
    predict every score exactly. Empty replies get NaN, as the PM gives them.
    """

    words: tuple[str, ...] = ("kill", "steal", "bomb", "poison", "weapon", "hack", "drugs")
    identity: str = "keyword-test-scorer"

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        return [self._one(reply) for reply in replies]

    def score(self, context: Conversation, reply: str) -> float:
        return self._one(reply)

    def _one(self, reply: str) -> float:
        if not reply.strip():
            return math.nan
        tokens = _WORD.findall(reply.lower())
        return -float(sum(tokens.count(word) for word in self.words))

    def __call__(self) -> KeywordScorer:
        """A KeywordScorer is its own (picklable) factory."""
        return self


def finite_or_none(value: float) -> float | None:
    """Scores go to the store as floats or NULL, never NaN."""
    return None if value is None or math.isnan(value) else float(value)
