"""Training, evaluation and registration of harmlessness preference models.

One function per step so the CLI, scripts and tests share them: featurise pairs (cached),
split off a seeded validation set, fit a Bradley-Terry head, centre it, measure it, save
it (file in the data directory + a ``PreferenceModel`` row with metrics and data hash).

Counter-bias pairs (``pairs.load_counter_pairs``) join the training side only: the seeded
split is made over the comparison pairs alone, so a PM trained with and without them is
measured on the same held-out pairs, and ``data_hash`` stays the hash of the pairs that
were split (the calibration recognises the packaged PM's held-out 20% by it); the counter
pairs are recorded separately in ``training["counter_pairs"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from redline.harmlessness.provenance import (
    COUNTER_PAIRS,
    PAIRS_A,
    TRAIN_SIDE,
    VALIDATION_SIDE,
    split_tag,
)
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
    #: Indices (into the split pairs) of the validation pairs, for calibration.
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


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
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    fit_on: str = TRAIN_SIDE,
) -> TrainOutcome:
    """Fit on one side of the seeded split plus ``extra`` (chosen, rejected) pairs, which
    never enter validation; centre on the fitted side's replies, so 0 stays a typical
    comparison reply; measure on both sides (``train``: the fitted side; ``validation``: the
    other; ``train_counter``: the extra pairs).

    ``fit_on="validation"`` fits on the small held-out side instead: a PM that shares no
    pair with the usual one (same seed and fraction), to judge what the usual one ranked.
    """
    n = len(chosen)
    if n < MIN_PAIRS:
        raise DataFormatError(f"only {n} usable pairs; need at least {MIN_PAIRS} to train")
    if fit_on not in (TRAIN_SIDE, VALIDATION_SIDE):
        raise DataFormatError(f"fit_on {fit_on!r}: use {TRAIN_SIDE} or {VALIDATION_SIDE}")
    if val_fraction > 0:
        train, val = split_indices(n, val_fraction, seed)
        if fit_on == VALIDATION_SIDE:
            train, val = val, train
    elif fit_on == VALIDATION_SIDE:
        raise DataFormatError("fit_on validation needs a validation fraction above 0")
    else:
        train, val = np.arange(n), np.arange(0)
    fit_chosen, fit_rejected = chosen[train], rejected[train]
    if extra is not None and len(extra[0]):
        fit_chosen = np.vstack([fit_chosen, extra[0]])
        fit_rejected = np.vstack([fit_rejected, extra[1]])
    if head == "linear":
        fitted, info = fit_linear(fit_chosen, fit_rejected, seed=seed, c=c)
    elif head == "mlp":
        fitted, info = fit_mlp(fit_chosen, fit_rejected, seed=seed)
    else:
        raise DataFormatError(f"unknown head {head!r}; use linear or mlp")
    fitted.centre(np.vstack([chosen[train], rejected[train]]))
    metrics: dict[str, Any] = {"train": pair_metrics(fitted, chosen[train], rejected[train])}
    if extra is not None and len(extra[0]):
        metrics["train_counter"] = pair_metrics(fitted, *extra)
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
            "fit_on": fit_on,
            "pairs": n,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return TrainOutcome(model, len(train), len(val), val)


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
    counter: PairSet | None = None,
    fit_on: str = TRAIN_SIDE,
    source: str = PAIRS_A,
) -> TrainOutcome:
    """Featurise (cached under the data directory) and fit; ``counter`` pairs (e.g. the
    packaged counter-bias pairs) are added to the training side only. ``source`` names
    ``pairs`` in ``training["trained_on"]``, with the side fitted (see
    :mod:`redline.harmlessness.provenance`), so the self-judging check can tell PMs that
    share data from PMs that do not."""
    recipe = dict(recipe or DEFAULT_RECIPE)
    featurizer = featurizer or build_featurizer(recipe)
    cache = feature_cache_dir(settings)
    chosen, rejected = featurize_pairs(pairs, featurizer, cache, progress=progress)
    extra = None
    if counter is not None and counter.pairs:
        extra = featurize_pairs(counter, featurizer, cache, progress=progress)
    outcome = train_head(
        chosen,
        rejected,
        head=head,
        seed=seed,
        val_fraction=val_fraction,
        recipe=recipe_for(featurizer, recipe),
        data_hash=pairs.data_hash(),
        extra=extra,
        fit_on=fit_on,
    )
    outcome.model.training["skipped"] = dict(pairs.skipped)
    outcome.model.training["trained_on"] = [split_tag(source, fit_on, seed, val_fraction)]
    if counter is not None and counter.pairs:
        outcome.model.training["counter_pairs"] = {
            "source": COUNTER_PAIRS,
            "pairs": len(counter.pairs),
            "data_hash": counter.data_hash(),
        }
        outcome.model.training["trained_on"].append(COUNTER_PAIRS)
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
