"""The schema: migrations create it on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from redline.store import Attempt, Base, Candidate, Origin, Person, Store, Target, Turn
from redline.store.engine import HEAD_REVISION, current_revision, head_revision


def test_fresh_database_is_upgraded_to_head(store: Store) -> None:
    assert current_revision(store.engine) == head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "person",
        "target",
        "task",
        "attempt",
        "turn",
        "candidate",
        "review",
        "wellbeing_survey",
        "preference_model",
    } <= tables


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    first = Store(db_url)
    first.dispose()
    second = Store(db_url)  # an already migrated database opens without error
    assert current_revision(second.engine) == head_revision()
    second.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_foreign_keys_are_enforced(store: Store) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(Turn(attempt_id=999_999, index=0, human="orphan"))


def test_a_conversation_round_trips_through_the_orm(store: Store) -> None:
    with store.transaction() as session:
        person = Person(member_number=1_000_001, handle="alice", pool="staff")
        target = Target(
            name="smollm2-135m/plain",
            family="smollm2",
            num_params=135_000_000,
            size_label="135M",
            model_type="plain lm",
        )
        attempt = Attempt(
            person=person,
            target=target,
            origin=Origin.HUMAN,
            task_description="<script>alert(1)</script>",
            rating=3.0,
        )
        turn = Turn(index=0, human="hello")
        turn.candidates = [
            Candidate(index=0, text="a", picked=True, latency_s=0.1),
            Candidate(index=1, text="b", meta={"k": 2}),
        ]
        attempt.turns = [turn]
        session.add(attempt)
    with store.session() as session:
        stored = session.scalars(select(Attempt)).one()
        assert stored.task_description == "<script>alert(1)</script>"
        assert [c.text for c in stored.turns[0].candidates] == ["a", "b"]
        assert stored.turns[0].candidates[1].meta == {"k": 2}
        assert stored.target is not None and stored.target.num_params == 135_000_000


def test_large_parameter_counts_fit(store: Store) -> None:
    with store.transaction() as session:
        session.add(
            Target(
                name="hh-rlhf-52b/hhh",
                family="hh-rlhf",
                num_params=52 * 10**9,
                size_label="52B",
                model_type="context distillation",
            )
        )
    with store.session() as session:
        assert session.scalars(select(Target.num_params)).one() == 52 * 10**9


def test_the_fast_path_head_is_alembics_head() -> None:
    """Opening a store skips Alembic when the database is at HEAD_REVISION: it must be the
    newest migration, or a database one migration behind would never be upgraded."""
    assert head_revision() == HEAD_REVISION
