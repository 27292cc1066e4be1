"""Attempt frames built straight from synthetic records (no store), and a small store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.support.synthetic import synthetic_red_team_records, write_synthetic

from redline.datasets import import_file
from redline.datasets.hhrlhf import parse_size
from redline.store import Store


def frame_from_records(records: list[dict]) -> pd.DataFrame:
    """The columns of ``attempts_frame`` that analyses read, computed independently."""
    r = pd.DataFrame(records)
    return pd.DataFrame(
        {
            "attempt_id": np.arange(1, len(r) + 1),
            "origin": "imported",
            "model_type": r["model_type"],
            "num_params": r["num_params"].map(parse_size),
            "size_label": r["num_params"],
            "member": r["red_team_member_id"],
            "pool": np.where(r["is_upworker"], "upwork", "mturk"),
            "rating": r["rating"].astype(float),
            "min_harmlessness": r["min_harmlessness_score_transcript"].astype(float),
            "task_description_harmlessness": r["task_descripton_harmlessness_score"],
            "tags": r["tags"],
            "task_description": r["task_description"],
        }
    )


@pytest.fixture(scope="session")
def make_frame():
    return frame_from_records


@pytest.fixture(scope="session")
def records_2k() -> list[dict]:
    return synthetic_red_team_records(2000, seed=11)


@pytest.fixture(scope="session")
def frame_2k(records_2k: list[dict]) -> pd.DataFrame:
    return frame_from_records(records_2k)


@pytest.fixture
def small_store(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "synthetic.json"
    write_synthetic(path, 400, 3)
    store = Store(f"sqlite:///{tmp_path / 'redline.db'}")
    import_file(store, path)
    yield store
    store.dispose()
