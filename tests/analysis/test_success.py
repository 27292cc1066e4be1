"""Attack success and bootstrap intervals against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from redline.analysis.success import attack_success
from redline.statistics import mean_ci


def test_point_estimates_equal_groupby(frame_2k: pd.DataFrame) -> None:
    table = attack_success(frame_2k, n_boot=200)
    g = frame_2k.groupby(["model_type", "size_label"])
    for row in table.itertuples():
        cell = g.get_group((row.model_type, row.size_label))
        assert row.n == len(cell)
        assert row.mean_rating == pytest.approx(cell["rating"].mean())
        assert row.success_share == pytest.approx((cell["rating"] >= 3).mean())
        assert row.mean_min_harmlessness == pytest.approx(cell["min_harmlessness"].mean())
        assert row.mean_rating_lo <= row.mean_rating <= row.mean_rating_hi
        assert row.success_share_lo <= row.success_share <= row.success_share_hi


def test_paper_order_and_sizes_by_parameters(frame_2k: pd.DataFrame) -> None:
    table = attack_success(frame_2k, n_boot=100)
    assert list(dict.fromkeys(table["model_type"])) == [
        "plain lm",
        "context distillation",
        "rejection sampling",
        "rlhf",
    ]
    assert list(table["size_label"][:3]) == ["2.7B", "13B", "52B"]


def test_bootstrap_matches_scipy_and_normal_theory() -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(1.0, 2.0, size=400)
    mean, lo, hi = mean_ci(values, n_boot=4000, seed=1)
    ref = stats.bootstrap(
        (values,), np.mean, n_resamples=4000, method="percentile", random_state=2
    ).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.04) and hi == pytest.approx(ref.high, abs=0.04)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert lo == pytest.approx(mean - half, abs=0.05) and hi == pytest.approx(mean + half, abs=0.05)


def test_share_interval_matches_wilson_for_large_n() -> None:
    flags = np.r_[np.ones(300), np.zeros(700)]
    _, lo, hi = mean_ci(flags, n_boot=4000, seed=3)
    ref = stats.binomtest(300, 1000).proportion_ci(0.95, method="wilson")
    assert lo == pytest.approx(ref.low, abs=0.01) and hi == pytest.approx(ref.high, abs=0.01)


def test_unscored_cells_give_nan_not_errors(frame_2k: pd.DataFrame) -> None:
    frame = frame_2k.copy()
    frame.loc[frame["model_type"] == "rlhf", "min_harmlessness"] = np.nan
    table = attack_success(frame, n_boot=50)
    rlhf = table[table["model_type"] == "rlhf"]
    assert (rlhf["n_scored"] == 0).all() and rlhf["mean_min_harmlessness"].isna().all()
