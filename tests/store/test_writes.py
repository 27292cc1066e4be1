"""The store's one write layer: the rules the campaign, attack and import paths share."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from redline.errors import StoreError
from redline.store import Store
from redline.store.models import Attempt, Candidate, Origin, Person, Role, Target, Turn
from redline.store.writes import (
    CandidateRow,
    Conversation,
    TargetRow,
    TurnRow,
    add_conversations,
    add_imported_people,
    add_turn,
    create_person,
    ensure_target,
    get_or_create_person,
    imported_people,
    start_conversation,
    stored_hashes,
)

ROW = TargetRow("fam-1m/plain", "fam", 1_000_000, "1M", "plain lm", {"defence": "plain"})


def _conversation(key: str, target_id: int) -> Conversation:
    return Conversation(
        {"target_id": target_id, "origin": Origin.REPLAY, "content_hash": key},
        [
            TurnRow("hi", [CandidateRow("hello", picked=True), CandidateRow("go away")]),
            TurnRow(None, [CandidateRow("more", picked=True, harmlessness=-1.5, scored_by="pm")]),
        ],
    )


def test_member_numbers_continue_after_people_not_after_attackers(store: Store) -> None:
    with store.transaction() as session:
        attacker = get_or_create_person(
            session, "attacker:x", Role.REDTEAMER, "automated", member_number=-99
        )
        first = create_person(session, "alice", Role.REDTEAMER, "staff")
        imported = add_imported_people(session, "acme", {7: "mturk", 3: "upwork"})
    assert attacker.member_number == -99
    assert first.member_number == 1
    assert [imported[7].member_number, imported[3].member_number] == [2, 3]
    assert imported[7].handle == "acme:7" and imported[3].pool == "upwork"


def test_a_person_is_found_again_by_handle_or_import_identity(store: Store) -> None:
    with store.transaction() as session:
        made = get_or_create_person(session, "bot", Role.REDTEAMER, "automated", member_number=-5)
        again = get_or_create_person(session, "bot", Role.ADMIN, "staff", member_number=-6)
        add_imported_people(session, "acme", {7: "mturk"})
        found = imported_people(session, "acme", [7, 8])
        assert again.id == made.id and again.member_number == -5
        assert list(found) == [7] and found[7].source == "acme"
        assert session.scalar(select(func.count()).select_from(Person)) == 2


def test_an_imported_handle_taken_by_someone_else_is_refused(store: Store) -> None:
    with store.transaction() as session:
        create_person(session, "acme:7", Role.REDTEAMER, "staff")
        with pytest.raises(StoreError, match="another --source name"):
            add_imported_people(session, "acme", {7: "mturk"})


def test_a_stored_target_wins_over_a_new_description(store: Store) -> None:
    with store.transaction() as session:
        first = ensure_target(session, ROW)
        changed = TargetRow(ROW.name, "other", 2, "2", "rlhf", {})
        assert ensure_target(session, changed).id == first.id
    with store.session() as session:
        stored = session.scalars(select(Target)).one()
    assert (stored.family, stored.model_type, stored.config) == ("fam", "plain lm", ROW.config)


def test_conversations_are_written_whole_in_order(store: Store) -> None:
    with store.transaction() as session:
        target_id = ensure_target(session, ROW).id
        add_conversations(session, [_conversation("a" * 64, target_id)])
    with store.session() as session:
        attempt = session.scalars(select(Attempt)).one()
        assert stored_hashes(session, ["a" * 64, "b" * 64]) == {"a" * 64}
        shown = [
            (t.index, t.human, [(c.index, c.text, c.picked, c.harmlessness) for c in t.candidates])
            for t in attempt.turns
        ]
    assert shown == [
        (0, "hi", [(0, "hello", True, None), (1, "go away", False, None)]),
        (1, None, [(0, "more", True, -1.5)]),
    ]


def test_a_key_already_stored_writes_nothing(store: Store) -> None:
    with store.transaction() as session:
        target_id = ensure_target(session, ROW).id
        add_conversations(session, [_conversation("a" * 64, target_id)])
    with pytest.raises(IntegrityError), store.transaction() as session:
        add_conversations(
            session, [_conversation("c" * 64, target_id), _conversation("a" * 64, target_id)]
        )
    with store.session() as session:
        counts = [session.scalar(select(func.count()).select_from(m)) for m in (Attempt, Turn)]
        assert counts == [1, 2]
        assert session.scalar(select(func.count()).select_from(Candidate)) == 3


def test_platform_turns_come_one_at_a_time_and_once_per_key(store: Store) -> None:
    with store.transaction() as session:
        target_id = ensure_target(session, ROW).id
        attempt = start_conversation(session, {"target_id": target_id, "origin": Origin.HUMAN})
        attempt_id = attempt.id
        turn = add_turn(session, attempt_id, 0, TurnRow("hi", [CandidateRow("a")], "k1"))
        assert [c.text for c in turn.candidates] == ["a"]
    with pytest.raises(IntegrityError), store.transaction() as session:
        add_turn(session, attempt_id, 1, TurnRow("hi", [CandidateRow("b")], "k1"))
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Turn)) == 1


def test_work_that_is_not_committed_leaves_nothing_even_after_a_savepoint(store: Store) -> None:
    """A savepoint (ensure_target's race guard) must nest in the caller's transaction: on
    SQLite, a SAVEPOINT issued before any other write opened a transaction of its own and
    its RELEASE committed the row, so a dry-run import wrote a target."""
    with store.session() as session:  # closed without commit: everything rolls back
        ensure_target(session, ROW)
        get_or_create_person(session, "attacker", Role.REDTEAMER, "automated", member_number=-5)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Target)) == 0
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_a_dry_run_import_of_new_targets_writes_nothing(db_url: str, tmp_path: Path) -> None:
    from tests.row_counts import row_counts
    from typer.testing import CliRunner

    from redline.cli import app

    sample = Path(__file__).parents[1] / "data" / "red_team_attempts.sample.jsonl"
    path = tmp_path / "one.jsonl"
    path.write_text(sample.read_text().splitlines()[0] + "\n")
    before = row_counts(db_url)
    result = CliRunner().invoke(app, ["--db-url", db_url, "import", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    assert "would add 1" in result.output
    assert row_counts(db_url) == before
