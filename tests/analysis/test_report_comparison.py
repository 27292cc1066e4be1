"""The report's target-comparison section: replayed attacks compared across targets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from redline.analysis.report import _target_comparisons
from redline.attack.frame import add_pair_key


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

    sections = _target_comparisons(_replays(), n_boot=200, seed=0, figure=figure)
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
        _target_comparisons(
            frame.drop(columns="pair_key"), n_boot=10, seed=0, figure=lambda f, n: None
        )
        == []
    )
    human = frame.assign(origin="human")
    assert _target_comparisons(human, n_boot=10, seed=0, figure=lambda f, n: None) == []
