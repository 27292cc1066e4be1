"""Training, evaluation and registration of harmlessness preference models.

One function per step so the CLI, scripts and tests share them: featurise pairs (cached),
split off a seeded validation set, fit a Bradley-Terry head, centre it, measure it, save
it (file in the data directory + a ``PreferenceModel`` row with metrics and data hash).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from redline.config import Settings
from redline.errors import DataFormatError
from redline.harmlessness.backbones import DEFAULT_RECIPE, build_featurizer, recipe_for
from redline.harmlessness.bradley_terry import (
    PreferenceModelFile,
    fit_linear,
    fit_mlp,
    pair_metrics,
)
from redline.harmlessness.features import Progress, SpanFeaturizer, cached_span_features
from redline.harmlessness.pairs import PairSet, pairs_from_records
from redline.store import Store
from redline.store.models import PreferenceModel

MIN_PAIRS = 10


def featurize_pairs(
    pairs: PairSet,
    featurizer: SpanFeaturizer,
    cache_dir: Path,
    *,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(chosen features, rejected features); both replies of a pair share one context
    pass, and everything lands in the feature cache as it is computed."""
    contexts, replies = [], []
    for pair in pairs.pairs:
        contexts += [pair.context, pair.context]
        replies += [pair.chosen, pair.rejected]
    feats = cached_span_features(featurizer, contexts, replies, cache_dir, progress=progress)
    return feats[0::2], feats[1::2]


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle, then the last ``val_fraction`` is validation (fixed for a seed)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction)
    return np.sort(order[: n - n_val]), np.sort(order[n - n_val :])


@dataclass
class TrainOutcome:
    model: PreferenceModelFile
    train_pairs: int
    val_pairs: int


def train_head(
    chosen: np.ndarray,
    rejected: np.ndarray,
    *,
    head: str = "linear",
    seed: int = 0,
    val_fraction: float = 0.2,
    recipe: dict[str, Any] | None = None,
    data_hash: str = "",
    c: float | None = None,
) -> TrainOutcome:
    """Fit on the training split, centre on its replies, measure on both splits."""
    n = len(chosen)
    if n < MIN_PAIRS:
        raise DataFormatError(f"only {n} usable pairs; need at least {MIN_PAIRS} to train")
    if val_fraction > 0:
        train, val = split_indices(n, val_fraction, seed)
    else:
        train, val = np.arange(n), np.arange(0)
    if head == "linear":
        fitted, info = fit_linear(chosen[train], rejected[train], seed=seed, c=c)
    elif head == "mlp":
        fitted, info = fit_mlp(chosen[train], rejected[train], seed=seed)
    else:
        raise DataFormatError(f"unknown head {head!r}; use linear or mlp")
    fitted.centre(np.vstack([chosen[train], rejected[train]]))
    metrics: dict[str, Any] = {"train": pair_metrics(fitted, chosen[train], rejected[train])}
    if len(val):
        metrics["validation"] = pair_metrics(fitted, chosen[val], rejected[val])
    model = PreferenceModelFile(
        head=fitted,
        featurizer=recipe or {},
        metrics=metrics,
        data_hash=data_hash,
        training={
            **info,
            "seed": seed,
            "val_fraction": val_fraction,
            "pairs": n,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return TrainOutcome(model, len(train), len(val))


def train_preference_model(
    pairs: PairSet,
    settings: Settings,
    *,
    recipe: dict[str, Any] | None = None,
    featurizer: SpanFeaturizer | None = None,
    head: str = "linear",
    seed: int = 0,
    val_fraction: float = 0.2,
    progress: Progress | None = None,
) -> TrainOutcome:
    """Featurise (cached under the data directory) and fit."""
    recipe = dict(recipe or DEFAULT_RECIPE)
    featurizer = featurizer or build_featurizer(recipe)
    chosen, rejected = featurize_pairs(
        pairs, featurizer, feature_cache_dir(settings), progress=progress
    )
    outcome = train_head(
        chosen,
        rejected,
        head=head,
        seed=seed,
        val_fraction=val_fraction,
        recipe=recipe_for(featurizer, recipe),
        data_hash=pairs.data_hash(),
    )
    outcome.model.training["skipped"] = dict(pairs.skipped)
    run_file = getattr(featurizer, "path", None)
    if run_file is not None:  # provenance: the shipped file or the BF16 copy of it
        outcome.model.training["features_computed_on"] = Path(run_file).name
    return outcome


def feature_cache_dir(settings: Settings) -> Path:
    return settings.cache_dir / "features"


def pairs_from_store(store: Store) -> PairSet:
    """The store's picks as pairs (chosen = the reply not picked as more harmful)."""
    from redline.datasets.exporter import comparison_records

    with store.session() as session:
        return pairs_from_records(list(comparison_records(session)))


def register(store: Store, settings: Settings, model: PreferenceModelFile, name: str) -> Path:
    """Save the model under ``<data>/models/pm/`` and record it (replacing a same-name row)."""
    path = settings.models_dir / "pm" / name
    meta_path = model.save(path)
    with store.transaction() as session:
        row = session.scalar(select(PreferenceModel).where(PreferenceModel.name == name))
        if row is None:
            row = PreferenceModel(name=name, data_hash=model.data_hash, path=str(meta_path))
            session.add(row)
        row.data_hash = model.data_hash
        row.metrics = {**model.metrics, "identity": model.identity, "training": model.training}
        row.path = str(meta_path)
    return meta_path
