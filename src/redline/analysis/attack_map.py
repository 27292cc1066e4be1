"""The attack map: transcripts embedded, laid out in 2-D by UMAP, clustered, labelled.

Steps: embed (any :data:`Embedder`), k nearest neighbours (exact, scikit-learn), UMAP on
that graph, HDBSCAN on the 2-D layout, and a label per cluster from its most
distinctive words (class-based TF-IDF: a cluster's mean TF-IDF minus the mean over all
texts). Success (rating >= 3) colours the points in the figures; when the frame gives
each attempt's origin, points also carry ``attack_origin`` (human, replay, or the
automated strategy), for the second map that colours people against each strategy.
Computing the neighbours with scikit-learn and passing them to UMAP avoids its
nearest-neighbour descent, which dominated the run time on 39k texts.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from redline.analysis.embeddings import Embedder, TfidfSvdEmbedder
from redline.analysis.frame import attack_origins
from redline.analysis.ordering import SUCCESS_THRESHOLD

MIN_POINTS = 10
#: Frame columns that let the map tell people from each automated strategy (optional).
ORIGIN_COLUMNS = ("origin", "strategy")


@dataclass
class AttackMap:
    """Points (one per attempt) and clusters; ``timings`` in seconds per step."""

    points: pd.DataFrame
    clusters: pd.DataFrame
    embedding: str
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def layout(vectors: np.ndarray, *, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """2-D UMAP layout of row vectors (cosine geometry: rows should be unit length)."""
    import umap
    from sklearn.neighbors import NearestNeighbors

    n = len(vectors)
    k = max(2, min(n_neighbors, n - 1))
    dist, idx = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(vectors).kneighbors(vectors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(
            n_neighbors=k,
            min_dist=0.1,
            random_state=seed,
            init="pca" if n <= 5000 else "random",  # PCA init costs ~10 s at 39k
            n_epochs=200 if n <= 10_000 else 120,
            precomputed_knn=(idx, dist, None),
        )
        return np.asarray(reducer.fit_transform(vectors), dtype=np.float32)


def cluster(xy: np.ndarray, *, min_cluster_size: int | None = None) -> np.ndarray:
    """HDBSCAN labels on the layout; -1 is noise."""
    from sklearn.cluster import HDBSCAN

    size = min_cluster_size or max(5, len(xy) // 150)
    return HDBSCAN(min_cluster_size=size, min_samples=min(10, size), copy=True).fit_predict(xy)


def distinctive_words(
    tfidf: sparse.csr_matrix, vocabulary: np.ndarray, labels: np.ndarray, top: int = 4
) -> dict[int, list[str]]:
    """Per cluster, the words whose mean TF-IDF most exceeds the corpus mean."""
    overall = np.asarray(tfidf.mean(axis=0)).ravel()
    words: dict[int, list[str]] = {}
    for label in sorted(set(labels.tolist()) - {-1}):
        rows = np.flatnonzero(labels == label)
        lift = np.asarray(tfidf[rows].mean(axis=0)).ravel() - overall
        best = np.argsort(-lift)[:top]
        words[label] = [str(vocabulary[i]) for i in best if lift[i] > 0]
    return words


def attack_map(
    texts: pd.DataFrame,
    frame: pd.DataFrame,
    *,
    embed: Embedder | None = None,
    seed: int = 0,
    min_cluster_size: int | None = None,
) -> AttackMap:
    """Map the attempts in ``texts`` (``attempt_id``, ``transcript``) joined to ``frame``.

    ``embed`` defaults to :class:`TfidfSvdEmbedder`. With fewer than 10 transcripts
    there is nothing to map; the result is empty with a note.
    """
    embed = embed or TfidfSvdEmbedder(seed=seed)
    name = str(getattr(embed, "name", getattr(embed, "__name__", "custom")))
    columns = ["attempt_id", "rating", "model_type", "size_label", "member"]
    data = texts.merge(
        frame[columns + [c for c in ORIGIN_COLUMNS if c in frame.columns]],
        on="attempt_id",
        how="left",
    )
    if "origin" in data.columns:
        data["attack_origin"] = attack_origins(data)
    data = data[data["transcript"].str.len() > 0].reset_index(drop=True)
    timings: dict[str, float] = {}
    if len(data) < MIN_POINTS:
        empty = pd.DataFrame(columns=["cluster", "n", "label", "success_share", "words"])
        note = f"only {len(data)} transcripts: the attack map needs at least {MIN_POINTS}"
        return AttackMap(
            data.iloc[0:0].assign(x=[], y=[], cluster=[]), empty, name, timings, [note]
        )

    start = time.perf_counter()
    vectors = embed(data["transcript"].tolist())
    timings["embed"] = time.perf_counter() - start
    start = time.perf_counter()
    xy = layout(vectors, seed=seed)
    timings["umap"] = time.perf_counter() - start
    start = time.perf_counter()
    labels = cluster(xy, min_cluster_size=min_cluster_size)
    timings["cluster"] = time.perf_counter() - start

    start = time.perf_counter()
    tfidf = getattr(embed, "tfidf_", None)
    vocabulary = getattr(embed, "vocabulary_", None)
    if tfidf is None or vocabulary is None:
        labeller = TfidfSvdEmbedder(seed=seed)
        labeller(data["transcript"].tolist())
        tfidf, vocabulary = labeller.tfidf_, labeller.vocabulary_
    assert tfidf is not None and vocabulary is not None, "the labeller sets both"
    words = distinctive_words(tfidf, vocabulary, labels)
    timings["label"] = time.perf_counter() - start

    data["x"], data["y"], data["cluster"] = xy[:, 0], xy[:, 1], labels
    data["success"] = data["rating"] >= SUCCESS_THRESHOLD
    rows = []
    for label, group in data.groupby("cluster"):
        rows.append(
            {
                "cluster": int(label),
                "n": len(group),
                "label": "noise (no cluster)" if label == -1 else ", ".join(words.get(label, [])),
                "success_share": float(group["success"].mean()),
                "mean_rating": float(group["rating"].mean()),
            }
        )
    clusters = pd.DataFrame(rows).sort_values("n", ascending=False).reset_index(drop=True)
    return AttackMap(data, clusters, name, timings)
