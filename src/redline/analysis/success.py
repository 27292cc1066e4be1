"""Attack success by model size x model type (the paper's Figure 1 and Table 1).

Three numbers per cell, each with a percentile-bootstrap 95% interval: the mean
self-rated success (0-4), the share of attempts rated >= 3 ("successful"), and the mean
minimum harmlessness score (lower = more harmful; only attempts that have a score).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from redline.analysis.ordering import SUCCESS_THRESHOLD, sort_cells, with_cells
from redline.statistics import mean_ci

SUCCESS_COLUMNS = [
    "model_type",
    "num_params",
    "size_label",
    "n",
    "n_rated",
    "mean_rating",
    "mean_rating_lo",
    "mean_rating_hi",
    "success_share",
    "success_share_lo",
    "success_share_hi",
    "n_scored",
    "mean_min_harmlessness",
    "mean_min_harmlessness_lo",
    "mean_min_harmlessness_hi",
]


def attack_success(frame: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per (model type, size) with means, shares and their 95% intervals.

    Each cell gets its own seed (``seed`` + cell index), so a table is reproducible and
    adding a cell does not change the intervals of the others.
    """
    cells = with_cells(frame)
    rows = []
    keys = ["model_type", "num_params", "size_label"]
    for index, ((model_type, num_params, size_label), group) in enumerate(
        cells.groupby(keys, sort=True)
    ):
        ratings = group["rating"].to_numpy(dtype=float)
        ratings = ratings[np.isfinite(ratings)]
        scores = group["min_harmlessness"].to_numpy(dtype=float)
        scores = scores[np.isfinite(scores)]
        mean_r = mean_ci(ratings, n_boot=n_boot, seed=seed + 3 * index)
        share = mean_ci(
            (ratings >= SUCCESS_THRESHOLD).astype(float), n_boot=n_boot, seed=seed + 3 * index + 1
        )
        harm = mean_ci(scores, n_boot=n_boot, seed=seed + 3 * index + 2)
        rows.append(
            [
                model_type,
                int(num_params),
                size_label,
                len(group),
                len(ratings),
                *mean_r,
                *share,
                len(scores),
                *harm,
            ]
        )
    table = pd.DataFrame(rows, columns=SUCCESS_COLUMNS)
    return sort_cells(table)
