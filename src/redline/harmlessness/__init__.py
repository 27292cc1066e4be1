"""Harmlessness preference model: LM hidden-state features, a Bradley-Terry head, scoring.

Public surface (everything else is internal):
- :func:`load_default_scorer` - the PM rejection sampling and ``redline score`` use;
- :class:`PreferenceModelScorer` - ``score``, ``score_batch``, ``score_embeddings``;
- :func:`cached_embeddings` - cached whole-text embeddings for other analyses (attack map).
"""

from __future__ import annotations

import os
from pathlib import Path

from redline.config import Settings
from redline.harmlessness.features import GGUFFeaturizer, cached_embeddings
from redline.harmlessness.model import PreferenceModelFile
from redline.harmlessness.scorer import EmptyReplyError, PreferenceModelScorer

DEFAULT_PM = Path(__file__).with_name("default_pm.json")


def default_pm_path(settings: Settings | None = None) -> Path:
    """``REDLINE_PM`` (env), else ``pm_path`` in redline.toml, else the packaged model."""
    configured = os.environ.get("REDLINE_PM")
    if not configured and settings is not None:
        section = settings.raw.get("redline", settings.raw)
        configured = section.get("pm_path")
    return Path(configured) if configured else DEFAULT_PM


def load_default_scorer(settings: Settings) -> PreferenceModelScorer:
    """The configured (or packaged) PM, with its features cached in the data directory."""
    return PreferenceModelScorer.from_file(
        default_pm_path(settings), cache_dir=settings.cache_dir / "features"
    )


__all__ = [
    "DEFAULT_PM",
    "EmptyReplyError",
    "GGUFFeaturizer",
    "PreferenceModelFile",
    "PreferenceModelScorer",
    "cached_embeddings",
    "default_pm_path",
    "load_default_scorer",
]
