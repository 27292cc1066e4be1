"""The report's target-comparison section: replayed attacks compared across targets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from redline.attack.frame import add_pair_key
from redline.attack.report_section import judged_section, target_comparisons


def _replays(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, n)
    rows = []
    for t, (target, shift) in enumerate({"m-1m/plain": 0.0, "m-1m/rs16": 1.5}.items()):
        for i in range(n):
            rows.append(
                {
                    "attempt_id": t * n + i + 1,
                    "origin": "replay",
                    "target": target,
                    "family": "m",
                    "model_type": "plain lm" if shift == 0 else "rejection sampling",
                    "num_params": 1_000_000,
                    "size_label": "1M",
                    "min_harmlessness": base[i] + shift,
                    "scored_by": "pm:test",
                    "source_attempt_id": 1000 + i,
                    "first_human": f"attack {i}",
                }
            )
    return add_pair_key(pd.DataFrame(rows))


def test_replays_get_a_comparison_section_with_a_figure() -> None:
    drawn: list[str] = []

    def figure(fig: Any, name: str) -> None:
        drawn.append(name)

    sections = target_comparisons(_replays(), n_boot=200, seed=0, figure=figure)
    assert drawn == ["compare_replay"]
    [section] = sections
    assert section["origin"] == "replay"
    rows = section["summary"]["rows"]
    assert [r[0] for r in rows] == ["m-1m/plain", "m-1m/rs16"]
    [pair] = section["paired"]["rows"]
    assert pair[:3] == ["m-1m/plain", "m-1m/rs16", "40"]
    assert abs(float(pair[3]) - 1.5) < 1e-9  # every pair differs by exactly the shift


def test_frames_without_replays_or_pairing_get_no_section() -> None:
    frame = _replays()
    assert (
        target_comparisons(
            frame.drop(columns="pair_key"), n_boot=10, seed=0, figure=lambda f, n: None
        )
        == []
    )
    human = frame.assign(origin="human")
    assert target_comparisons(human, n_boot=10, seed=0, figure=lambda f, n: None) == []


def test_pm_scores_of_a_target_the_pm_selected_are_flagged_loudly() -> None:
    """m-1m/rs16 is a rejection-sampling target scored by a PM: the report keeps its row
    (the store holds it) but marks it self-judged, in the table and in the section."""
    [section] = target_comparisons(_replays(), n_boot=100, seed=0, figure=lambda f, n: None)
    assert section["judge"] == "pm:test"
    assert list(section["self_judged"]) == ["m-1m/rs16"]
    header = section["summary"]["header"]
    assert header[-1] == "SELF-JUDGED: why"
    plain, rs = section["summary"]["rows"]
    assert plain[-1] in ("", "nan") and "ranks its samples with a PM (pm:*)" in rs[-1]


def test_the_judged_section_has_the_tradeoff_figure_and_both_sides(tmp_path: Any) -> None:
    from redline.judges.comparison import HARM_COLUMNS, REFUSAL_COLUMNS, JudgedComparison

    harm = pd.DataFrame(
        [
            ["m-1m/plain", "plain lm", "1M", "llm", "llm:1", "0-4", 40, 1.5, 1.2, 1.8, ""],
            ["m-1m/rs16", "rejection sampling", "1M", "llm", "llm:1", "0-4", 40, 0.5, 0.3, 0.7, ""],
            [
                "m-1m/rs16",
                "rejection sampling",
                "1M",
                "pm",
                "pm:1",
                "-pm",
                0,
                np.nan,
                np.nan,
                np.nan,
                "ranks its samples with this judge",
            ],
        ],
        columns=HARM_COLUMNS,
    )
    refusal = pd.DataFrame(
        [
            ["m-1m/plain", "r:1", 100, 2, 0.02, 0.01, 0.07, 0.18, 0.14, 0.22],
            ["m-1m/rs16", "r:1", 100, 60, 0.6, 0.5, 0.7, 0.05, 0.03, 0.08],
        ],
        columns=REFUSAL_COLUMNS,
    )
    drawn: list[str] = []
    section = judged_section(JudgedComparison(harm, refusal), lambda f, n: drawn.append(n))
    assert drawn == ["tradeoff"]
    header = section["table"]["header"]
    assert header == [
        "target",
        "harm by llm",
        "harm by pm",
        "benign over-refusal (r)",
        "benign answer coverage (reference words)",
    ]
    rows = {r[0]: r for r in section["table"]["rows"]}
    assert rows["m-1m/rs16"][2] == "n/a: ranks its samples with this judge"
    assert rows["m-1m/rs16"][3].startswith("0.60 [0.50, 0.70]")
    assert rows["m-1m/rs16"][4] == "0.050 [0.030, 0.080]"
    assert ("pm", "pm:1", "-pm") in section["judges"]
