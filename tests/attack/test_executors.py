"""The same batches in this process, in threads, in a process pool and on Ray give the
same stored results (scripted targets: the flow, not the models, is under test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from redline.attack.executors import (
    LocalExecutor,
    ProcessExecutor,
    batches,
    make_executor,
    run_batch,
)
from redline.attack.replay import plan_replay, replay
from redline.attack.runtime import Runtime
from redline.attack.sources import import_attacks
from redline.errors import ConfigError
from redline.store import Store
from redline.store.models import Attempt, Candidate, Origin, Turn

TARGETS = ["scripted-1m/plain", "scripted-1m/hhh"]


def _stored(store: Store) -> dict[tuple[int | None, int | None], list[tuple[str, float | None]]]:
    with store.session() as session:
        rows = session.execute(
            select(
                Attempt.source_attempt_id, Attempt.target_id, Candidate.text, Candidate.harmlessness
            )
            .join(Turn, Turn.attempt_id == Attempt.id)
            .join(Candidate, Candidate.turn_id == Turn.id)
            .where(Attempt.origin == Origin.REPLAY)
            .order_by(Attempt.source_attempt_id, Attempt.target_id, Turn.index, Candidate.index)
        ).all()
    out: dict[tuple[int | None, int | None], list[tuple[str, float | None]]] = {}
    for source, target, text, score in rows:
        out.setdefault((source, target), []).append((text, score))
    return out


def test_batches_and_executor_choice() -> None:
    assert [len(b) for b in batches(list(range(7)), 3)] == [3, 3, 1]  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        batches([], 0)
    assert isinstance(make_executor(), LocalExecutor)
    with pytest.raises(ConfigError, match="--workers"):
        ProcessExecutor(0)


def test_threads_give_the_same_results_as_sequential(
    tmp_path: Path, runtime: Runtime, red_team_file: Path
) -> None:
    results = []
    for name, executor in (("seq", LocalExecutor()), ("threads", LocalExecutor(3))):
        store = Store(f"sqlite:///{tmp_path / name}.db")
        attacks = import_attacks(store, red_team_file)
        report = replay(
            store, runtime, attacks, TARGETS, turns="all", executor=executor, batch_size=2
        )
        executor.close()
        assert report.written == 20
        results.append(_stored(store))
        store.dispose()
    assert results[0] == results[1]


@pytest.mark.slow
def test_process_pool_matches_this_process(
    tmp_path: Path, runtime: Runtime, red_team_file: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'pool.db'}")
    attacks = import_attacks(store, red_team_file)
    executor = ProcessExecutor(2)
    try:
        report = replay(
            store, runtime, attacks, TARGETS, turns="all", executor=executor, batch_size=3
        )
    finally:
        executor.close()
    assert (report.written, report.failed) == (20, [])
    assert report.executor == "a local pool of 2 processes"
    jobs = plan_replay(attacks, TARGETS, turns="all")
    expected = {r.key: r for r in run_batch(runtime, jobs)}
    with store.session() as session:
        stored = {
            a.content_hash: a
            for a in session.scalars(select(Attempt).where(Attempt.origin == Origin.REPLAY))
        }
        assert set(stored) == set(expected)
        for key, result in expected.items():
            assert [t.human for t in stored[key].turns] == [t.human for t in result.turns]
            assert stored[key].min_harmlessness == result.min_harmlessness
    store.dispose()


@pytest.mark.slow
def test_ray_local_cluster_matches_this_process(
    tmp_path: Path, runtime: Runtime, red_team_file: Path
) -> None:
    pytest.importorskip("ray", reason="the Ray path needs pip install 'redline[ray]'")
    store = Store(f"sqlite:///{tmp_path / 'ray.db'}")
    attacks = import_attacks(store, red_team_file, limit=6)
    executor = make_executor(ray_address="local", workers=2)
    try:
        report = replay(
            store, runtime, attacks, TARGETS, turns="all", executor=executor, batch_size=2
        )
    finally:
        executor.close()
    assert (report.written, report.failed) == (12, [])
    assert report.executor == "2 Ray actors at local"
    local = Store(f"sqlite:///{tmp_path / 'local.db'}")
    replay(local, runtime, import_attacks(local, red_team_file, limit=6), TARGETS, turns="all")
    assert list(_stored(store).values()) == list(_stored(local).values())
    store.dispose()
    local.dispose()
