"""report.html contents: counts that say what they count, the agreement section, the
boundary person variance, captured warnings, percent shares, and an atomic --out."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redline.analysis import figures
from redline.analysis.formatting import integer, percent
from redline.analysis.report import build_report
from redline.analysis.sections import mixed as mixed_section
from redline.analysis.tables import counts
from redline.review.agreement import RatedItem


def _texts(frame: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """A few texts only: fewer than the attack map needs, so these tests stay fast."""
    head = frame.head(n)
    return pd.DataFrame(
        {
            "attempt_id": head["attempt_id"],
            "transcript": "\n\nHuman: hi\n\nAssistant: hello",
            "first_human": "hi",
            "task_description": head["task_description"],
        }
    )


def _with_pairs(frame: pd.DataFrame, n_pairs: int) -> pd.DataFrame:
    pairs = pd.DataFrame(
        {
            "attempt_id": np.arange(10**6, 10**6 + n_pairs),
            "origin": "imported",
            "model_type": None,
            "num_params": np.nan,
            "size_label": None,
            "member": np.nan,
            "pool": None,
            "rating": np.nan,
            "min_harmlessness": np.nan,
            "task_description_harmlessness": np.nan,
            "tags": None,
            "task_description": "",
        }
    )
    return pd.concat([frame, pairs], ignore_index=True)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_counts_separate_attempts_from_comparison_pairs(frame_2k: pd.DataFrame) -> None:
    frame = _with_pairs(frame_2k.head(300), 1600)
    c = counts(frame)
    assert c["n_attempts"] == 300 and c["n_other"] == 1600
    assert c["origins"] == {"imported": 300} and c["other_origins"] == {"imported": 1600}
    assert c["n_people"] == frame_2k.head(300)["member"].nunique()


def test_report_header_tags_note_and_agreement(tmp_path: Path, frame_2k: pd.DataFrame) -> None:
    frame = _with_pairs(frame_2k.head(400).assign(tags=None), 1600)
    rng = np.random.default_rng(1)
    reviews = [
        RatedItem(i, tuple(int(v) for v in rng.integers(0, 5, 3)), int(rng.integers(0, 5)))
        for i in range(60)
    ]
    result = build_report(
        frame, _texts(frame), tmp_path / "out", n_boot=100, reviews=reviews, parallel=False
    )
    html = _text(result.path)
    assert "400 red-team attempts</strong>" in html
    assert "1,600 records without a target" in html
    assert "How to read this report" in html
    assert "No attempt carries tags yet" in html
    assert 'id="agreement"' in html and "Fleiss&#39; kappa, binary (rating &gt;= 3)" in html
    assert "<p>60 attempts have finished reviews" in html
    assert "up to 0.55" in html and ">0.32<" in html and ">0.49<" in html
    assert "Prompted LM" in html and "context distillation" in html  # caption keeps the label
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left beside it


def test_no_reviews_says_so(tmp_path: Path, frame_2k: pd.DataFrame) -> None:
    frame = frame_2k.head(300)
    result = build_report(frame, _texts(frame), tmp_path / "r", n_boot=100, parallel=False)
    html = _text(result.path)
    assert "No finished reviews yet" in html
    assert "share of all" in html  # the synthetic data has tags
    shares = [c for c in html.split("<td>") if c.startswith(("0.", "1."))]
    assert shares  # numbers remain, but tag shares are percentages with one decimal
    assert percent(0.00234) == "0.2%" and integer(3.0) == "3"


def test_person_variance_at_the_boundary_is_said_not_plotted(
    tmp_path: Path, frame_2k: pd.DataFrame
) -> None:
    frame = frame_2k.head(300).copy()
    # min-harmlessness from the cell alone plus noise: no person effect at all
    rng = np.random.default_rng(0)
    frame["min_harmlessness"] = rng.normal(0, 1, len(frame))
    frame["member"] = np.arange(len(frame)) % 40
    result = build_report(frame, _texts(frame), tmp_path / "r", n_boot=100, parallel=False)
    html = _text(result.path)
    assert "No detectable person effect (variance estimate 0)" in html
    assert not (tmp_path / "r/efficacy.png").exists()
    assert "per-person random intercepts" not in html


def test_warnings_are_captured_and_stated(
    tmp_path: Path, frame_2k: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = mixed_section.member_efficacy

    def noisy(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
        warnings.warn(
            "The Hessian matrix at the estimated parameter values is not positive definite.",
            UserWarning,
            stacklevel=1,
        )
        return real(frame)

    monkeypatch.setattr(mixed_section, "member_efficacy", noisy)
    frame = frame_2k.head(300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping the report fails the test
        result = build_report(frame, _texts(frame), tmp_path / "r", n_boot=100, parallel=False)
    html = _text(result.path)
    assert "Hessian matrix at the estimated parameter values is not positive definite" in html
    assert any("Hessian" in w for w in result.warnings)


def test_failed_report_leaves_no_partial_output(
    tmp_path: Path, frame_2k: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = frame_2k.head(300)
    out = tmp_path / "out"
    build_report(frame, _texts(frame), out, n_boot=100, parallel=False)
    before = sorted(p.name for p in out.iterdir())

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("tags figure failed")

    monkeypatch.setattr(figures, "tags_figure", broken)
    with pytest.raises(RuntimeError, match="tags figure failed"):
        build_report(frame, _texts(frame), out, n_boot=100, parallel=False)
    assert sorted(p.name for p in out.iterdir()) == before  # the earlier report is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folders
    with pytest.raises(RuntimeError):
        build_report(frame, _texts(frame), tmp_path / "fresh", n_boot=100, parallel=False)
    assert not (tmp_path / "fresh").exists()
