"""Percentile bootstrap intervals for means and shares.

Why a bootstrap rather than a normal interval: ratings are bounded and lumpy (0-4) and
cells can be small for campaign data, where a t interval misleads. Resampling is done
in chunks so a cell of 17,739 attempts x 1,000 replicates stays small in memory.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]  # (replicates, n) sample matrix -> (replicates,)
_CHUNK_CELLS = 4_000_000  # values per resampling chunk (~32 MB of float64)


def bootstrap_replicates(
    values: np.ndarray, statistic: Statistic, *, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_boot`` values of ``statistic`` on resamples (with replacement) of ``values``."""
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
    """The central ``level`` interval of the bootstrap replicates."""
    finite = replicates[np.isfinite(replicates)]
    if len(finite) == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - level) / 2
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return float(lo), float(hi)


def mean_ci(
    values: np.ndarray, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, low, high) of the finite ``values``; NaN for an empty sample."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (float("nan"), float("nan"), float("nan"))
    reps = bootstrap_replicates(
        values, lambda m: m.mean(axis=1), n_boot=n_boot, rng=np.random.default_rng(seed)
    )
    return (float(values.mean()), *percentile_interval(reps, level))
