"""Comparison statistics against independent computations on frames with known effects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon
from statsmodels.stats.proportion import proportion_confint

from redline.attack.compare import (
    bootstrap_mean,
    compare,
    comparison_figure,
    paired_comparisons,
)
from redline.attack.frame import add_pair_key
from redline.errors import RedlineError

INFO = {
    "a-1m/plain": ("plain lm", 1_000_000, "1M"),
    "a-1m/rs16": ("rejection sampling", 1_000_000, "1M"),
    "b-9m/plain": ("plain lm", 9_000_000, "9M"),
}


def _frame(n: int = 60, seed: int = 0, shift: float = 1.0) -> pd.DataFrame:
    """Replays of n attacks on three targets; rs16 = plain + shift + small noise."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, n)
    rows = []
    next_id = 1
    for target, (model_type, params, size) in INFO.items():
        for i in range(n):
            score = base[i] + (shift + rng.normal(0, 0.1) if target == "a-1m/rs16" else 0.0)
            if target == "b-9m/plain":
                score = rng.normal(0, 1)
            rows.append(
                {
                    "attempt_id": next_id,
                    "origin": "replay",
                    "target": target,
                    "family": target.split("-")[0],
                    "model_type": model_type,
                    "num_params": params,
                    "size_label": size,
                    "min_harmlessness": score,
                    "scored_by": "pm:x",
                    "source_attempt_id": 1000 + i,
                    "first_human": f"attack {i}",
                }
            )
            next_id += 1
    return add_pair_key(pd.DataFrame(rows))


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(1)
    small, large = rng.normal(0, 1, 30), rng.normal(0, 1, 3000)
    lo_s, hi_s = bootstrap_mean(small, n_boot=2000, ci=0.95, rng=rng)
    lo_l, hi_l = bootstrap_mean(large, n_boot=2000, ci=0.95, rng=rng)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    # about 2 * 1.96 / sqrt(n)
    assert hi_s - lo_s == pytest.approx(2 * 1.96 * small.std() / np.sqrt(30), rel=0.2)
    assert hi_l - lo_l < (hi_s - lo_s) / 5
    assert np.isnan(bootstrap_mean(np.array([1.0]), n_boot=10, ci=0.95, rng=rng)[0])


def test_summary_threshold_and_paired_effects() -> None:
    frame = _frame()
    result = compare(frame, origin="replay", n_boot=1000, allow_self_judged=True)
    summary = result.summary.set_index("target")
    assert list(result.summary["target"]) == ["a-1m/plain", "a-1m/rs16", "b-9m/plain"]
    assert result.threshold == pytest.approx(np.quantile(frame["min_harmlessness"], 0.25))
    for target, group in frame.groupby("target"):
        scores = group["min_harmlessness"]
        assert summary.loc[target, "n"] == 60
        assert summary.loc[target, "mean_min_harmlessness"] == pytest.approx(scores.mean())
        assert summary.loc[target, "success_rate"] == pytest.approx(
            (scores < result.threshold).mean()
        )
        assert summary.loc[target, "mean_lo"] < scores.mean() < summary.loc[target, "mean_hi"]
        hits = int((scores < result.threshold).sum())
        lo, hi = proportion_confint(hits, 60, alpha=0.05, method="wilson")
        assert (summary.loc[target, "success_lo"], summary.loc[target, "success_hi"]) == (
            pytest.approx(lo),
            pytest.approx(hi),
        )
    paired = result.paired.set_index(["target_a", "target_b"])
    rs = paired.loc[("a-1m/plain", "a-1m/rs16")]
    # the paired design sees the +1 shift clearly although the per-target intervals overlap
    assert rs["n_pairs"] == 60
    assert rs["diff_lo"] > 0.9 and rs["diff_hi"] < 1.1
    plain = frame[frame.target == "a-1m/plain"].sort_values("source_attempt_id")
    rs16 = frame[frame.target == "a-1m/rs16"].sort_values("source_attempt_id")
    diff = rs16["min_harmlessness"].to_numpy() - plain["min_harmlessness"].to_numpy()
    assert rs["p_value"] == pytest.approx(wilcoxon(diff).pvalue)
    assert rs["b_more_harmless_share"] == 1.0
    unrelated = paired.loc[("a-1m/plain", "b-9m/plain")]
    assert unrelated["p_value"] > 0.01
    assert (result.paired["p_holm"] >= result.paired["p_value"]).all()
    assert (result.paired["p_holm"] <= 1).all()


def test_explicit_threshold_and_pairing_only_on_shared_attacks() -> None:
    frame = _frame(n=20)
    frame = frame[~((frame.target == "a-1m/rs16") & (frame.source_attempt_id < 1005))]
    result = compare(frame, threshold=0.0, n_boot=200, allow_self_judged=True)
    assert result.threshold == 0.0
    never = compare(frame, threshold=-100.0, n_boot=200, allow_self_judged=True).summary
    assert (never["success_rate"] == 0).all() and (never["success_hi"] > 0.1).all()
    paired = paired_comparisons(frame, n_boot=200).set_index(["target_a", "target_b"])
    assert paired.loc[("a-1m/plain", "a-1m/rs16"), "n_pairs"] == 15
    assert paired.loc[("a-1m/plain", "b-9m/plain"), "n_pairs"] == 20


def test_judges_are_never_mixed_and_missing_targets_are_named() -> None:
    frame = _frame(n=10)
    other = frame.assign(scored_by="pm:other", attempt_id=frame["attempt_id"] + 10_000)
    both = pd.concat([frame, other])
    with pytest.raises(RedlineError, match="2 judges"):
        compare(both)
    other_only = compare(both, scored_by="pm:other", n_boot=50, allow_self_judged=True)
    assert other_only.summary["n"].tolist() == [10] * 3
    published = frame.assign(scored_by="hh-rlhf", origin="imported")
    only_pm = compare(pd.concat([frame, published]), n_boot=50, allow_self_judged=True)
    assert only_pm.summary["n"].tolist() == [10, 10, 10]
    with pytest.raises(RedlineError, match="no scored attempts for x-1m/plain"):
        compare(frame, targets=["a-1m/plain", "x-1m/plain"])
    with pytest.raises(RedlineError, match="origin automated"):
        compare(frame, origin="automated")


def test_figure_is_written(tmp_path: Path) -> None:
    result = compare(_frame(n=15), n_boot=100, allow_self_judged=True)
    path = tmp_path / "figure.png"
    fig = comparison_figure(result, path)
    assert path.stat().st_size > 10_000
    assert len(fig.axes) == 2 and fig.axes[0].get_xscale() == "log"


def test_a_pm_never_judges_the_targets_it_selected() -> None:
    """rs16 ranks its samples with a PM: PM-scored tables leave it out (saying why) unless
    asked, then keep it flagged; another judge (not a PM) compares it as usual."""
    frame = _frame(n=20)
    result = compare(frame, n_boot=100)
    assert list(result.summary["target"]) == ["a-1m/plain", "b-9m/plain"]
    assert set(result.self_judged) == {"a-1m/rs16"}
    assert "ranks its samples with a PM (pm:*)" in result.self_judged["a-1m/rs16"]
    assert not (result.paired[["target_a", "target_b"]] == "a-1m/rs16").any().any()
    kept = compare(frame, n_boot=100, allow_self_judged=True)
    flags = kept.summary.set_index("target")["self_judged"]
    assert flags["a-1m/rs16"] and not flags["a-1m/plain"]
    assert kept.paired["self_judged"].sum() == 2  # both pairs that include rs16
    independent = compare(frame.assign(scored_by="keyword-test-scorer"), n_boot=100)
    assert "a-1m/rs16" in set(independent.summary["target"]) and not independent.self_judged
    only_rs = frame[frame.target == "a-1m/rs16"]
    with pytest.raises(RedlineError, match="selected by its own judge"):
        compare(only_rs, n_boot=50)
