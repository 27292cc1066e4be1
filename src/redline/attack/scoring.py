"""How attack code scores replies: a function passed in, never a hard-wired model.

Why a protocol and factories: replay, automated attacks and the study must score every
reply with the harmlessness preference model, but flow tests need a deterministic judge,
and worker processes (``--workers``, ``--ray``) must build their own scorer from a
picklable recipe instead of receiving a loaded model. Scorers are the one
:class:`~redline.targets.base.Scorer` protocol that rejection sampling ranks with too
(``identity`` is stored as ``scored_by`` so judges never mix); the harmlessness PM
(``PreferenceModelScorer``) is one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from redline.config import Settings
from redline.targets.base import Scorer


class ScorerFactory(Protocol):
    """A picklable recipe that builds a :class:`~redline.targets.base.Scorer` inside any
    process."""

    def __call__(self) -> Scorer: ...


@dataclass(frozen=True)
class DefaultPM:
    """The harmlessness preference model: ``pm_path`` or the configured default.

    Imported lazily: building the recipe costs nothing, only calling it loads the PM.
    """

    settings: Settings
    pm_path: Path | None = None

    def __call__(self) -> Scorer:
        from redline.harmlessness import PreferenceModelScorer, default_pm_path

        path = self.pm_path or default_pm_path(self.settings)
        scorer: Scorer = PreferenceModelScorer.from_file(
            path, cache_dir=self.settings.cache_dir / "features"
        )
        return scorer


def finite_or_none(value: float) -> float | None:
    """Scores go to the store as floats or NULL, never NaN."""
    return None if value is None or math.isnan(value) else float(value)
