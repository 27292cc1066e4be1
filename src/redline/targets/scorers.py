"""Rank scorers by name: what a defence that ranks samples (rejection sampling) uses when
the caller gives no scorer.

Why a registry of paths: DESIGN.md section 1 has ``targets`` know nothing of the
preference model, which itself uses a ``targets`` backend; naming the packaged PM's
loader as a string keeps that true (``targets`` never imports ``harmlessness``, not even
inside a function) while the target registry can still wire the two together. Another
package adds a scorer under the entry-point group ``redline.scorers``: a callable taking
:class:`~redline.config.Settings` and returning a :class:`~redline.targets.base.Scorer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redline.config import Settings
from redline.errors import ConfigError
from redline.plugins import Registry
from redline.targets.base import Scorer

ScorerLoader = Callable[[Settings], Scorer]


def _validate(name: str, obj: Any) -> ScorerLoader:
    if not callable(obj):
        raise ConfigError(f"scorer plugin {name!r} ({obj!r}) is not callable with settings")
    loader: ScorerLoader = obj
    return loader


SCORERS: Registry[ScorerLoader] = Registry(
    "scorers",
    {"pm": "redline.harmlessness:load_default_scorer"},
    _validate,
    noun="scorer",
)
