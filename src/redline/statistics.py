"""Intervals every layer reports: percentile bootstrap and the Wilson score interval.

Why one leaf module: analysis, attack comparisons, judges' calibration and review
agreement all put intervals beside their numbers; written once here, they resample and
round the same way, and any package may use them without importing another service
(this module imports nothing of redline).

Why a bootstrap rather than a normal interval: ratings are bounded and lumpy (0-4) and
cells can be small for campaign data, where a t interval misleads. Why Wilson for
shares: unlike a bootstrap it does not collapse to [0, 0] when nothing succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

Statistic = Callable[[np.ndarray], np.ndarray]  # (replicates, n) sample matrix -> (replicates,)
ItemStatistic = Callable[[NDArray[Any]], float | None]  # rows = items; None = undefined
_CHUNK_CELLS = 4_000_000  # values per resampling chunk (~32 MB of float64)


def bootstrap_replicates(
    values: np.ndarray, statistic: Statistic, *, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_boot`` values of ``statistic`` on resamples (with replacement) of ``values``.

    Resampling runs in chunks so a cell of 17,739 attempts x 1,000 replicates stays
    small in memory.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return np.full(n_boot, np.nan)
    per_chunk = max(1, _CHUNK_CELLS // n)
    out = np.empty(n_boot)
    for start in range(0, n_boot, per_chunk):
        stop = min(n_boot, start + per_chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = statistic(values[idx])
    return out


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of the finite bootstrap replicates."""
    finite = replicates[np.isfinite(replicates)]
    if len(finite) == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - level) / 2
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _means(matrix: np.ndarray) -> np.ndarray:
    return matrix.mean(axis=1)


def mean_ci(
    values: np.ndarray, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, low, high) of the finite ``values``; NaN for an empty sample."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (float("nan"), float("nan"), float("nan"))
    reps = bootstrap_replicates(values, _means, n_boot=n_boot, rng=np.random.default_rng(seed))
    return (float(values.mean()), *percentile_interval(reps, level))


def bootstrap_mean(
    values: np.ndarray, *, n_boot: int, ci: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean drawn from ``rng`` (NaN, NaN for fewer
    than 2 values: one value has no spread to resample)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (float("nan"), float("nan"))
    return percentile_interval(bootstrap_replicates(values, _means, n_boot=n_boot, rng=rng), ci)


def bootstrap_items(
    matrix: NDArray[Any], statistic: ItemStatistic, n_boot: int, seed: int
) -> tuple[float | None, float | None]:
    """Percentile 95% interval of ``statistic`` over items (rows) resampled with
    replacement, for statistics of a whole table such as an agreement coefficient.

    Replicates where the statistic is undefined are dropped; with fewer than 20 left the
    interval is reported as unknown (None) rather than made up.
    """
    n = matrix.shape[0]
    if n < 2 or n_boot < 1:
        return None, None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        value = statistic(matrix[rng.integers(0, n, size=n)])
        if value is not None:
            values.append(value)
    if len(values) < min(20, n_boot):
        return None, None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def wilson(successes: int, n: int, ci: float) -> tuple[float, float]:
    """Wilson score interval of a share (NaN, NaN for no trials)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return (float("nan"), float("nan"))
    lo, hi = proportion_confint(successes, n, alpha=1 - ci, method="wilson")
    return float(lo), float(hi)
