"""Distributions of ratings, min-harmlessness and task-description scores, and how
self-rated success relates to the harmlessness score (the paper reports that lower
scores go with higher ratings)."""

from __future__ import annotations

import numpy as np
import pandas as pd

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def rating_distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """Count and share of each rating value among rated attempts."""
    ratings = frame["rating"].dropna()
    counts = ratings.value_counts().sort_index()
    table = pd.DataFrame({"rating": counts.index.astype(float), "n": counts.to_numpy()})
    table["share"] = table["n"] / max(1, len(ratings))
    return table.reset_index(drop=True)


def score_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """n, mean, sd, min, quantiles and max of the two harmlessness scores."""
    rows = []
    for column, label in (
        ("min_harmlessness", "min harmlessness (transcript)"),
        ("task_description_harmlessness", "task-description harmlessness"),
    ):
        values = frame[column].dropna().to_numpy(dtype=float)
        row: dict[str, object] = {"score": label, "n": len(values)}
        if len(values):
            row |= {"mean": values.mean(), "sd": values.std(ddof=1) if len(values) > 1 else 0.0}
            row |= {"min": values.min(), "max": values.max()}
            row |= {f"q{q:g}": np.quantile(values, q) for q in QUANTILES}
        rows.append(row)
    return pd.DataFrame(rows)


def rating_vs_harmlessness(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd of min-harmlessness for each rating value (attempts with both)."""
    both = frame.dropna(subset=["rating", "min_harmlessness"])
    if both.empty:
        return pd.DataFrame(columns=["rating", "n", "mean_min_harmlessness", "sd_min_harmlessness"])
    grouped = both.groupby("rating")["min_harmlessness"]
    table = grouped.agg(n="size", mean_min_harmlessness="mean", sd_min_harmlessness="std")
    return table.reset_index()


def rating_harmlessness_correlation(frame: pd.DataFrame) -> tuple[float, float, int]:
    """(Pearson r, Spearman rho, n) between rating and min-harmlessness."""
    both = frame.dropna(subset=["rating", "min_harmlessness"])
    if len(both) < 3:
        return (float("nan"), float("nan"), len(both))
    pearson = both["rating"].corr(both["min_harmlessness"])
    spearman = both["rating"].corr(both["min_harmlessness"], method="spearman")
    return (float(pearson), float(spearman), len(both))
