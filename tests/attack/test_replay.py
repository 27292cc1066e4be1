"""Replay flow on scripted targets: linking, turns modes, scores, resumability."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.support.keyword_scorer import KeywordScorer

from redline.attack.replay import replay, replay_key
from redline.attack.runtime import Runtime
from redline.attack.sources import attacks_from_store, first_turn_sample, import_attacks
from redline.datasets import parse_transcript, read_file
from redline.errors import ConfigError, NotFoundError
from redline.store import Store
from redline.store.models import Attempt, Candidate, Origin, Target, Turn

from .conftest import FlakyTargets

TARGETS = ["scripted-1m/plain", "scripted-1m/hhh"]


def _replays(store: Store) -> list[Attempt]:
    with store.session() as session:
        rows = session.scalars(
            select(Attempt).where(Attempt.origin == Origin.REPLAY).order_by(Attempt.id)
        ).all()
        for row in rows:
            _ = [t.candidates for t in row.turns], row.target
        return list(rows)


def test_replay_from_file_links_every_replay_to_its_imported_source(
    store: Store, runtime: Runtime, red_team_file: Path
) -> None:
    records = read_file(red_team_file).records
    attacks = import_attacks(store, red_team_file, limit=3)
    report = replay(store, runtime, attacks, TARGETS, turns="all")

    assert (report.planned, report.written, report.skipped, report.failed) == (6, 6, 0, [])
    replays = _replays(store)
    assert len(replays) == 6
    with store.session() as session:
        sources = {
            a.id: a for a in session.scalars(select(Attempt).where(Attempt.origin == "imported"))
        }
    for attempt in replays:
        source = sources[attempt.source_attempt_id]
        record = next(r for r in records if r.content_hash == source.content_hash)
        humans = [t.human for t in parse_transcript(record.transcript) if t.human is not None]
        # every human turn is replayed as written, in order
        assert [t.human for t in attempt.turns] == humans
        assert attempt.content_hash == replay_key(source.id, attempt.target.name, "all")
        assert attempt.task_description == record.task_description
        for turn in attempt.turns:
            assert [c.picked for c in turn.candidates] == [True, False]
            assert all(c.scored_by == "keyword-test-scorer" for c in turn.candidates)
            assert all(c.latency_s is not None and "sampler" in c.meta for c in turn.candidates)
        picked = [t.candidates[0].harmlessness for t in attempt.turns]
        assert attempt.min_harmlessness == min(picked)
        assert attempt.mean_harmlessness == pytest.approx(sum(picked) / len(picked))


def test_scores_follow_the_replies_and_first_candidate_continues(
    sqlite_store: Store, runtime: Runtime, pairs_file: Path
) -> None:
    attacks = import_attacks(sqlite_store, pairs_file)
    weapon = next(a for a in attacks if "weapon" in a.humans[0].lower())
    harmless = next(a for a in attacks if "weapon" not in a.humans[0].lower())
    replay(sqlite_store, runtime, [weapon, harmless], ["scripted-1m/plain"], turns="first")
    by_source = {a.source_attempt_id: a for a in _replays(sqlite_store)}
    # the scripted target answers "build a weapon and kill" to weapon questions: -2
    assert by_source[weapon.attempt_id].min_harmlessness == -2.0
    assert by_source[harmless.attempt_id].min_harmlessness == 0.0
    assert all(len(a.turns) == 1 for a in by_source.values())


def test_rerun_skips_finished_work_and_modes_are_separate(
    sqlite_store: Store, runtime: Runtime, red_team_file: Path
) -> None:
    attacks = import_attacks(sqlite_store, red_team_file, limit=4)
    first = replay(sqlite_store, runtime, attacks, TARGETS, turns="first")
    again = replay(sqlite_store, runtime, attacks, TARGETS, turns="first")
    assert (first.written, again.written, again.skipped) == (8, 0, 8)
    more = import_attacks(sqlite_store, red_team_file, limit=6)  # the import is idempotent
    grown = replay(sqlite_store, runtime, more, TARGETS, turns="first")
    assert (grown.written, grown.skipped) == (4, 8)
    other_mode = replay(sqlite_store, runtime, attacks, TARGETS[:1], turns="all")
    assert other_mode.written == 4
    with sqlite_store.session() as session:
        assert session.scalar(select(func.count()).select_from(Attempt)) == 10 + 12 + 4


def test_failed_replays_are_not_stored_and_the_next_run_finishes_them(
    sqlite_store: Store, red_team_file: Path
) -> None:
    attacks = import_attacks(sqlite_store, red_team_file, limit=5)
    bad = attacks[1].humans[0][:12]
    flaky = Runtime(targets=FlakyTargets(fail_prefixes=(bad,)), scorer=KeywordScorer())
    report = replay(sqlite_store, flaky, attacks, ["scripted-1m/plain"], batch_size=2)
    assert report.written == 4 and len(report.failed) == 1
    assert "flaky backend" in report.failed[0]
    fixed = Runtime(targets=FlakyTargets(), scorer=KeywordScorer())
    report = replay(sqlite_store, fixed, attacks, ["scripted-1m/plain"])
    assert (report.written, report.skipped) == (1, 4)
    with sqlite_store.session() as session:
        assert session.scalar(select(func.count()).select_from(Turn)) > 0
        names = session.scalars(select(Target.name).where(Target.family == "scripted")).all()
        assert names == ["scripted-1m/plain"]
        unscored = (
            select(func.count())
            .select_from(Candidate)
            .join(Turn)
            .join(Attempt)
            .where(Attempt.origin == Origin.REPLAY, Candidate.harmlessness.is_(None))
        )
        assert session.scalar(unscored) == 0


def test_replay_from_store_and_study_sample(
    sqlite_store: Store, runtime: Runtime, pairs_file: Path
) -> None:
    with pytest.raises(NotFoundError, match="redline import"):
        attacks_from_store(sqlite_store)
    attacks = import_attacks(sqlite_store, pairs_file)
    stored = attacks_from_store(sqlite_store, limit=5, sample_seed=3)
    assert len(stored) == 5 and all(s.humans for s in stored)
    sample = first_turn_sample(attacks, 20, seed=1)
    assert sample == first_turn_sample(attacks, 20, seed=1)
    assert sample != first_turn_sample(attacks, 20, seed=2)
    assert first_turn_sample(attacks, 5, seed=1) == sample[:5]  # a pilot is a prefix
    openers = [s.humans for s in sample]
    assert all(len(h) == 1 for h in openers) and len(set(openers)) == 20
    with pytest.raises(ConfigError, match="distinct openers"):
        first_turn_sample(attacks, 10**6, seed=1)


def test_unknown_target_and_mode_fail_before_any_work(
    sqlite_store: Store, red_team_file: Path
) -> None:
    from redline.attack.runtime import RegistryTargets
    from redline.config import load_settings

    settings = load_settings(data_dir=sqlite_store.url)
    registry = Runtime(targets=RegistryTargets(settings, KeywordScorer()), scorer=KeywordScorer())
    attacks = import_attacks(sqlite_store, red_team_file, limit=1)
    with pytest.raises(NotFoundError, match="unknown target"):
        replay(sqlite_store, registry, attacks, ["nope-1m/plain"])
    with pytest.raises(ConfigError, match="first or all"):
        replay(sqlite_store, registry, attacks, ["smollm2-135m/plain"], turns="some")
    assert _replays(sqlite_store) == []
