"""`redline review assign` and `redline agreement` on a real store: seeded reviews give
the values computed independently; imported hh-rlhf tags feed the same tag table."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from review_builders import World, build
from sqlalchemy import select
from typer.testing import CliRunner

from redline.cli import app
from redline.review import ReviewService, load_tags
from redline.store import Store
from redline.store.models import Review

runner = CliRunner()

# Eight attempts, three reviewers each (rows), and the authors' own ratings (n % 5).
REVIEWS = [[0, 0, 1], [1, 2, 1], [2, 2, 2], [3, 4, 4], [4, 4, 4], [0, 1, 0], [1, 1, 3], [3, 2, 2]]
AUTHORS = [0, 1, 2, 3, 4, 0, 1, 2]
TAGS = [["Theft"], [], ["Weapons", "Theft"], ["Other"], [], [], ["Theft"], []]


def hand_fleiss(ratings: list[list[int]], categories: int) -> float:
    """Fleiss (1971) written out, independent of statsmodels."""
    m = len(ratings[0])
    counts = np.array([[row.count(c) for c in range(categories)] for row in ratings])
    p_i = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    p_j = counts.sum(axis=0) / counts.sum()
    p_e = (p_j**2).sum()
    return float((p_i.mean() - p_e) / (1 - p_e))


def cli(store: Store, *args: str) -> str:
    result = runner.invoke(app, ["--db-url", store.url, *args])
    assert result.exit_code == 0, result.output
    return result.output


def seed_reviews(store: Store) -> World:
    world = build(store, targets=("fam-1m/plain",), per_target=8, reviewers=4, unfinished=1)
    out = json.loads(cli(store, "review", "assign", "--per-target", "8", "--seed", "3", "--json"))
    assert out["targets"][0]["added_reviews"] == 24 and sum(out["load"].values()) == 24
    service = ReviewService(store)
    attempts = world.attempts["fam-1m/plain"]
    with store.session() as session:
        rows = session.scalars(select(Review).order_by(Review.id)).all()
    by_attempt: dict[int, list[Review]] = {}
    for row in rows:
        by_attempt.setdefault(row.attempt_id, []).append(row)
    for n, attempt_id in enumerate(attempts):
        for slot, row in enumerate(by_attempt[attempt_id]):
            service.submit(row.reviewer_id, row.id, REVIEWS[n][slot], TAGS[n] if slot == 0 else [])
    return world


def test_agreement_json_on_seeded_reviews_gives_the_expected_values(store: Store) -> None:
    seed_reviews(store)
    report = json.loads(cli(store, "agreement", "--json", "--bootstrap", "200", "--seed", "1"))
    assert report["progress"] == {
        "assigned": 24,
        "open": 0,
        "done": 24,
        "skipped": 0,
        "attempts": 8,
    }
    ag = report["agreement"]
    with_author = [[*r, a] for r, a in zip(REVIEWS, AUTHORS, strict=True)]
    binary = [[int(v >= 3) for v in r] for r in REVIEWS]
    binary_author = [[int(v >= 3) for v in r] for r in with_author]
    expected = {
        "fleiss_likert_reviewers": hand_fleiss(REVIEWS, 5),
        "fleiss_likert_with_author": hand_fleiss(with_author, 5),
        "fleiss_binary_reviewers": hand_fleiss(binary, 2),
        "fleiss_binary_with_author": hand_fleiss(binary_author, 2),
        "alpha_ordinal_reviewers": krippendorff.alpha(
            np.array(REVIEWS, dtype=float).T, level_of_measurement="ordinal"
        ),
        "alpha_ordinal_with_author": krippendorff.alpha(
            np.array(with_author, dtype=float).T, level_of_measurement="ordinal"
        ),
    }
    for key, value in expected.items():
        assert ag[key]["value"] == pytest.approx(value, abs=1e-4), key
        low, high = ag[key]["ci95"]
        assert low <= ag[key]["value"] <= high, key
    # The written-out numbers, so a change in any library shows up here too.
    assert ag["fleiss_likert_reviewers"]["value"] == pytest.approx(0.3656, abs=1e-4)
    assert ag["fleiss_binary_with_author"]["value"] == pytest.approx(0.7091, abs=1e-4)
    assert ag["fleiss_likert_with_author"]["raters"] == 4
    assert ag["fleiss_likert_with_author"]["items"] == 8
    tags = {row["tag"]: row for row in report["tags"]}
    assert tags["Theft"]["reviews"] == 3 and tags["Theft"]["successful"] == 0
    assert tags["Other"]["successful"] == 1 and tags["Weapons"]["reviews"] == 1
    assert report["paper"]["likert_with_author"] == 0.32
    # Same seed, same intervals.
    again = json.loads(cli(store, "agreement", "--json", "--bootstrap", "200", "--seed", "1"))
    assert again["agreement"] == ag
    table = cli(store, "agreement", "--bootstrap", "50")
    assert "Fleiss" in table and "0.366" in table and "Theft" in table


def test_imported_hh_rlhf_tags_feed_the_tag_table(
    store: Store, tmp_path: Path, red_team_sample: Path
):
    records = json.loads(red_team_sample.read_text())
    records[0]["tags"] = ["Theft", "Fraud & deception"]
    records[1]["tags"] = ["Theft"]
    records[2]["tags"] = ["A tag from an older list"]
    path = tmp_path / "tagged.json"
    path.write_text(json.dumps(records))
    cli(store, "import", str(path))
    report = json.loads(cli(store, "agreement", "--json", "--bootstrap", "10"))
    tags = {row["tag"]: row for row in report["tags"]}
    assert tags["Theft"]["imported"] == 2 and tags["Theft"]["reviews"] == 0
    assert tags["Fraud & deception"]["total"] == 1
    assert tags["A tag from an older list"]["in_vocabulary"] is False
    assert {r["tag"] for r in report["tags"] if r["in_vocabulary"]} == set(load_tags())
    successful = sum(1 for r in records[:2] if r["rating"] >= 3)
    assert tags["Theft"]["successful"] == successful
    # Imported attempts are finished, with a target and an author: they can be reviewed.
    build(store, targets=(), per_target=0, reviewers=3)
    out = json.loads(cli(store, "review", "assign", "--per-target", "4", "--json"))
    assert sum(t["added_reviews"] for t in out["targets"]) == 12


def test_cli_errors_are_one_line_with_exit_code_2(store: Store) -> None:
    result = runner.invoke(app, ["--db-url", store.url, "review", "assign", "--reviewers", "3"])
    assert result.exit_code == 2
    assert "reviewer role" in result.output
    empty = json.loads(cli(store, "agreement", "--json"))
    assert empty["items_with_reviews"] == 0
    assert empty["agreement"]["fleiss_likert_reviewers"]["value"] is None
    assert "undefined" in cli(store, "agreement")


def test_wellbeing_cli(store: Store) -> None:
    world = build(store, targets=("fam-1m/plain",), per_target=10, reviewers=1)
    cli(store, "review", "assign", "--per-target", "10", "--reviewers", "1")
    service = ReviewService(store)
    me = world.reviewers[0]
    for item in service.queue(me).pending:
        service.submit(me, item.review_id, 2)
    service.record_survey(me, {"upset": 3, "alert": 1}, "need a break")
    out = json.loads(cli(store, "review", "wellbeing", "--json"))
    assert out["answered"] == 1
    assert {f["feeling"]: f["mean"] for f in out["feelings"]}["upset"] == 3.0
    assert "need a break" in cli(store, "review", "wellbeing")
