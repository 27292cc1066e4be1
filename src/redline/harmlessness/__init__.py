"""Harmlessness preference model: LM hidden-state features, a Bradley-Terry head, scoring.

Public surface (everything else is internal):
- :func:`load_default_scorer` - the PM rejection sampling and ``redline score`` use;
- :class:`PreferenceModelScorer` - ``score``, ``score_batch``, ``score_embeddings``;
- :func:`cached_embeddings` - cached whole-text embeddings for other analyses (attack map).
"""

from __future__ import annotations

from pathlib import Path

from redline.config import Settings, load_settings
from redline.harmlessness.bradley_terry import PreferenceModelFile
from redline.harmlessness.features import GGUFFeaturizer, cached_embeddings
from redline.harmlessness.pm_scorer import EmptyReplyError, PreferenceModelScorer

DEFAULT_PM = Path(__file__).with_name("default_pm.json")
#: A PM that shares no training pair with the packaged one (fitted on the other side of its
#: seeded split, on another backbone): the judge of what the packaged PM ranked or trained.
HELDOUT_PM = Path(__file__).with_name("heldout_pm.json")


def default_pm_path(settings: Settings | None = None) -> Path:
    """The ``pm_path`` setting (``REDLINE_PM``, else redline.toml, as :mod:`redline.config`
    resolves it), else the packaged model."""
    return (settings or load_settings()).pm_path or DEFAULT_PM


def load_default_scorer(settings: Settings) -> PreferenceModelScorer:
    """The configured (or packaged) PM, with its features cached in the data directory."""
    return PreferenceModelScorer.from_file(
        default_pm_path(settings), cache_dir=settings.cache_dir / "features"
    )


__all__ = [
    "DEFAULT_PM",
    "HELDOUT_PM",
    "EmptyReplyError",
    "GGUFFeaturizer",
    "PreferenceModelFile",
    "PreferenceModelScorer",
    "cached_embeddings",
    "default_pm_path",
    "load_default_scorer",
]
