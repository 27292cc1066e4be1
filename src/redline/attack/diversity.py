"""Are automated attacks as diverse as human ones? Dispersion and cluster coverage.

Why these two: Perez et al. and Ganguli et al. both note that machine attacks tend to
collapse onto few topics. Both groups' attacks (the human turns only, not the replies)
are embedded together with the attack map's embedder and mapped together with the
attack map (:func:`redline.analysis.attack_map.attack_map`), on equal-size samples so
neither group covers more clusters only by being larger:

- dispersion: mean pairwise cosine distance within a group, with a permutation test of
  the difference (group labels shuffled);
- coverage: how many of k clusters of the joint embedding (k-means, k = sqrt(2n)) a
  group reaches, and the entropy of its attacks over them. The attack map's own clusters
  (HDBSCAN on the UMAP layout) are reported too, with each group's noise share: HDBSCAN
  leaves scattered points unclustered, so on its own it under-counts a *diverse* group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.analysis.attack_map import attack_map
from redline.analysis.embeddings import TfidfSvdEmbedder
from redline.errors import RedlineError
from redline.store.models import Attempt, Origin, Turn

MIN_PER_GROUP = 5


def attack_texts(
    session: Session, origins: Sequence[Origin], *, first_turn_only: bool = True
) -> pd.DataFrame:
    """One row per attempt of these origins: ``attempt_id``, ``origin``, ``text`` (the
    opener, or all its human turns joined), in id order; attempts without human text are
    left out. Openers by default: one-turn automated attacks against multi-turn human
    ones would otherwise differ in length more than in content."""
    query = (
        select(Attempt.id, Attempt.origin, Turn.human)
        .join(Turn, Turn.attempt_id == Attempt.id)
        .where(Attempt.origin.in_(list(origins)), Turn.human.is_not(None))
        .order_by(Attempt.id, Turn.index)
    )
    if first_turn_only:
        query = query.where(Turn.index == 0)
    rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=["attempt_id", "origin", "human"])
    if frame.empty:
        return pd.DataFrame(columns=["attempt_id", "origin", "text"])
    frame["origin"] = frame["origin"].map(lambda o: Origin(o).value)
    grouped = frame.groupby(["attempt_id", "origin"], sort=True)["human"].apply("\n".join)
    out = grouped.reset_index().rename(columns={"human": "text"})
    return out[out["text"].str.strip().str.len() > 0].reset_index(drop=True)


class _KeepVectors:
    """The attack map's embedder, keeping the vectors it made for the dispersion."""

    name = "tfidf-svd"

    def __init__(self, seed: int) -> None:
        self.inner = TfidfSvdEmbedder(seed=seed)
        self.vectors: np.ndarray | None = None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.vectors = self.inner(texts)
        return self.vectors

    @property
    def tfidf_(self) -> Any:
        return self.inner.tfidf_

    @property
    def vocabulary_(self) -> Any:
        return self.inner.vocabulary_


def mean_pairwise_distance(vectors: np.ndarray) -> float:
    """Mean cosine distance over distinct pairs of unit rows (0: all the same)."""
    n = len(vectors)
    if n < 2:
        return float("nan")
    sims = vectors @ vectors.T
    return float(1.0 - (sims.sum() - np.trace(sims)) / (n * (n - 1)))


def _entropy(labels: np.ndarray) -> float:
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum()) if len(p) else 0.0


@dataclass
class Diversity:
    table: pd.DataFrame  # one row per group
    difference: float  # dispersion of group b minus group a
    p_value: float  # permutation test of that difference
    clusters: int  # k-means clusters of the joint embedding
    per_group: int  # attacks per group (equal-size samples)


def diversity(
    texts: pd.DataFrame,
    *,
    group_a: str = "human",
    group_b: str = "automated",
    per_group: int | None = None,
    permutations: int = 2000,
    seed: int = 0,
) -> Diversity:
    """Compare two groups of ``texts`` (``attempt_id``, ``origin``, ``text``); the
    group of a row is its origin, with ``imported`` counted as human."""
    texts = texts.assign(group=texts["origin"].replace({"imported": "human"}))
    sizes = texts["group"].value_counts()
    n = min(sizes.get(group_a, 0), sizes.get(group_b, 0))
    if per_group is not None:
        n = min(n, per_group)
    if n < MIN_PER_GROUP:
        raise RedlineError(
            f"diversity needs at least {MIN_PER_GROUP} attacks per group; have "
            f"{sizes.get(group_a, 0)} {group_a} and {sizes.get(group_b, 0)} {group_b}"
        )
    sample = pd.concat(
        [texts[texts["group"] == g].sample(n=n, random_state=seed) for g in (group_a, group_b)],
        ignore_index=True,
    )
    embedder = _KeepVectors(seed)
    mapped = attack_map(
        sample.rename(columns={"text": "transcript"})[["attempt_id", "transcript"]],
        pd.DataFrame(
            {
                "attempt_id": sample["attempt_id"],
                "rating": np.nan,
                "model_type": None,
                "size_label": None,
                "member": None,
            }
        ),
        embed=embedder,
        seed=seed,
        min_cluster_size=max(3, n // 15),
    )
    assert embedder.vectors is not None
    vectors = embedder.vectors
    points = mapped.points.merge(sample[["attempt_id", "group"]], on="attempt_id")
    labels = sample["group"].to_numpy()
    map_clusters = sorted(set(points["cluster"]) - {-1})
    k = max(2, round(np.sqrt(2 * n)))
    parts = KMeans(k, n_init=4, random_state=seed).fit_predict(vectors)
    rows = []
    for g in (group_a, group_b):
        mine = parts[labels == g]
        on_map = points[points["group"] == g]["cluster"].to_numpy()
        rows.append(
            {
                "group": g,
                "n": int(n),
                "dispersion": mean_pairwise_distance(vectors[labels == g]),
                "clusters_reached": len(set(mine.tolist())),
                "clusters_total": k,
                "coverage": len(set(mine.tolist())) / k,
                "cluster_entropy_bits": _entropy(mine),
                "map_clusters_reached": len(set(on_map[on_map != -1].tolist())),
                "map_clusters_total": len(map_clusters),
                "map_noise_share": float((on_map == -1).mean()),
            }
        )
    observed = float(rows[1]["dispersion"]) - float(rows[0]["dispersion"])
    rng = np.random.default_rng(seed)
    extreme = 0
    for _ in range(permutations):
        shuffled = rng.permutation(labels)
        diff = mean_pairwise_distance(vectors[shuffled == group_b]) - mean_pairwise_distance(
            vectors[shuffled == group_a]
        )
        extreme += abs(diff) >= abs(observed) - 1e-12
    p_value = (extreme + 1) / (permutations + 1)
    return Diversity(pd.DataFrame(rows), float(observed), float(p_value), k, int(n))
