"""The synthetic generator matches the published aggregates and the importer accepts it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from tests.support.synthetic import (
    CELL_MEANS,
    RATING_COUNTS,
    TABLE1_COUNTS,
    TAG_VOCABULARY,
    scale_counts,
    synthetic_red_team_records,
    write_synthetic,
)

from redline.datasets import import_file
from redline.datasets.hhrlhf import RED_TEAM_KEYS
from redline.store import Attempt, Person


@pytest.fixture(scope="module")
def full() -> pd.DataFrame:
    return pd.DataFrame(synthetic_red_team_records(seed=0))


def test_embedded_numbers_equal_the_reference_file(reference_stats: dict) -> None:
    ref = reference_stats
    assert ref["table1_counts"] == TABLE1_COUNTS
    assert {
        (c["model_type"], c["num_params"]): c["mean_min_harmlessness"] for c in ref["cells"]
    } == CELL_MEANS
    assert {int(k): v for k, v in ref["global"]["rating_counts"].items()} == RATING_COUNTS
    assert tuple(ref["tag_vocabulary"]) == TAG_VOCABULARY


def test_keys_in_published_order() -> None:
    records = synthetic_red_team_records(50, seed=3)
    assert all(tuple(r) == RED_TEAM_KEYS for r in records)


def test_full_size_matches_table1_counts_and_means(
    full: pd.DataFrame, reference_stats: dict
) -> None:
    ref = reference_stats
    assert len(full) == 38961
    grouped = full.groupby(["model_type", "num_params"])["min_harmlessness_score_transcript"]
    counts, means = grouped.size(), grouped.mean()
    for cell in ref["cells"]:
        key = (cell["model_type"], cell["num_params"])
        assert counts[key] == cell["n"]
        assert means[key] == pytest.approx(cell["mean_min_harmlessness"], abs=1e-9)
        # the 5% quantile is matched in distribution, not exactly
        q05 = full.loc[
            (full.model_type == key[0]) & (full.num_params == key[1]),
            "min_harmlessness_score_transcript",
        ].quantile(0.05)
        assert q05 == pytest.approx(cell["q05_min_harmlessness"], abs=0.45)


def test_ratings_people_and_scores(full: pd.DataFrame) -> None:
    assert full["rating"].value_counts().to_dict() == {
        float(k): v for k, v in RATING_COUNTS.items()
    }
    corr = np.corrcoef(full["rating"], full["min_harmlessness_score_transcript"])[0, 1]
    assert corr < -0.4  # lower harmlessness, higher self-rated success
    per_person = full["red_team_member_id"].value_counts().to_numpy()
    assert len(per_person) == 324
    top = per_person[: round(0.15 * 324)].sum() / per_person.sum()
    assert 0.75 <= top <= 0.85
    upworkers = full.loc[full["is_upworker"], "red_team_member_id"].nunique()
    assert upworkers == 17
    assert 400 <= full["is_upworker"].sum() <= 800
    # a person has one pool
    assert full.groupby("red_team_member_id")["is_upworker"].nunique().max() == 1
    td = full["task_descripton_harmlessness_score"]
    assert td.mean() == pytest.approx(0.855, abs=0.05)
    assert td.std() == pytest.approx(0.70, abs=0.06)
    tagged = full["tags"].dropna()
    assert 0.015 <= len(tagged) / len(full) <= 0.025
    assert all(1 <= len(t) <= 2 and set(t) <= set(TAG_VOCABULARY) for t in tagged)


def test_transcripts_templates_and_pii(full: pd.DataFrame) -> None:
    turns = full["transcript"].str.count("\n\nHuman: ")
    assert turns.min() >= 1 and turns.max() <= 4
    assert (full["transcript"].str.count("\n\nAssistant: ") == turns).all()
    assert full["transcript"].str.startswith("\n\nHuman: ").all()
    assert full["transcript"].nunique() > 0.99 * len(full)
    template = full["task_description"] == "Use my usual jailbreak prompt to get a harmful answer"
    assert 0.005 < template.mean() < 0.03
    assert full.loc[template, "red_team_member_id"].nunique() <= 4
    pii = full["transcript"].str.contains(r"@example\.com|555-01\d\d|\d+ \w+ (?:Street|Avenue)")
    assert 0.005 < pii.mean() < 0.03


def test_deterministic_given_seed() -> None:
    a = synthetic_red_team_records(300, seed=7)
    assert a == synthetic_red_team_records(300, seed=7)
    assert a != synthetic_red_team_records(300, seed=8)


def test_scaled_cell_counts_and_means_for_small_n() -> None:
    df = pd.DataFrame(synthetic_red_team_records(1000, seed=1))
    expected = scale_counts(
        [TABLE1_COUNTS[t][s] for t in TABLE1_COUNTS for s in ("2.7B", "13B", "52B")], 1000
    )
    counts = df.groupby(["model_type", "num_params"], sort=False).size()
    got = [counts[(t, s)] for t in TABLE1_COUNTS for s in ("2.7B", "13B", "52B")]
    assert got == expected and sum(got) == 1000
    means = df.groupby(["model_type", "num_params"])["min_harmlessness_score_transcript"].mean()
    for key, mean in CELL_MEANS.items():
        assert means[key] == pytest.approx(mean, abs=1e-9)


def test_scale_counts_independent_check() -> None:
    assert scale_counts([1, 1, 1], 10) == [4, 3, 3]
    assert scale_counts([5, 3, 2], 10) == [5, 3, 2]
    assert sum(scale_counts([1151, 2587, 1414, 17739], 777)) == 777


def test_reference_file_gives_same_records(reference_stats_file: Path) -> None:
    path = reference_stats_file
    assert synthetic_red_team_records(200, seed=2, reference=path) == synthetic_red_team_records(
        200, seed=2
    )


def test_importer_accepts_it(tmp_path: Path, sqlite_store) -> None:
    path = tmp_path / "synthetic.json.gz"
    assert write_synthetic(path, 400, 5) == 400
    report = import_file(sqlite_store, path)
    assert report.added == 400 and not report.invalid
    with sqlite_store.session() as session:
        assert session.scalar(select(func.count()).select_from(Attempt)) == 400
        people = session.scalar(select(func.count()).select_from(Person))
    assert (
        people
        == pd.DataFrame(synthetic_red_team_records(400, seed=5))["red_team_member_id"].nunique()
    )
