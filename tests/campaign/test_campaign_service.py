"""The red-team task service: the flow, idempotency, atomic turns, assignment, active time."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from redline.campaign import CampaignService, ConflictError, choose_target
from redline.errors import BackendError, NotFoundError, RedlineError
from redline.store import Store
from redline.store.models import Attempt, AttemptStatus, Candidate, Role, Target, Task, Turn
from redline.store.writes import create_person


def count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_whole_task_of_five_attempts(service: CampaignService, store: Store, person_id: int):
    task = service.start_task(person_id)
    assert task.size == 5
    for n in range(5):
        attempt = service.start_attempt(task.id, person_id, f"make it say bad thing {n}", f"a{n}")
        for t in range(2):
            turn = service.add_turn(attempt.id, person_id, f"message {t}", f"t{n}-{t}")
            assert [c.index for c in turn.candidates] == [0, 1]
            service.pick(attempt.id, person_id, turn.index, 1)
        task = service.finish(attempt.id, person_id, rating=n % 5, harmfulness=2)
    assert task.finished and task.finished_attempts == 5
    assert service.open_task(person_id) is None
    with store.session() as session:
        attempts = session.scalars(select(Attempt).order_by(Attempt.id)).all()
        assert [a.status for a in attempts] == [AttemptStatus.FINISHED] * 5
        assert [a.rating for a in attempts] == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert all(a.target_id is not None for a in attempts)
        picked = session.scalars(select(Candidate).where(Candidate.picked)).all()
        assert len(picked) == 10 and {c.index for c in picked} == {1}


def test_the_picked_reply_continues_the_conversation(
    service: CampaignService, targets, person_id: int
):
    task = service.start_task(person_id)
    attempt = service.start_attempt(task.id, person_id, "goal", "k")
    first = service.add_turn(attempt.id, person_id, "hello", "t0")
    service.pick(attempt.id, person_id, first.index, 0)
    service.add_turn(attempt.id, person_id, "go on", "t1")
    view = service.attempt(attempt.id, person_id)
    sent = service.conversation(view)
    assert [(m.role, m.text) for m in sent] == [
        ("human", "hello"),
        ("assistant", first.candidates[0].text),
        ("human", "go on"),
    ]
    # Both candidates came from one call with n=2 (generated together).
    assert sum(m.calls for m in targets.models.values()) == 2


def test_the_same_form_twice_creates_nothing_twice(
    service: CampaignService, store: Store, targets, person_id: int
):
    task = service.start_task(person_id)
    assert service.start_task(person_id).id == task.id
    a1 = service.start_attempt(task.id, person_id, "goal", "same-key")
    a2 = service.start_attempt(task.id, person_id, "goal", "same-key")
    assert a1.id == a2.id
    t1 = service.add_turn(a1.id, person_id, "hi", "turn-key")
    t2 = service.add_turn(a1.id, person_id, "hi", "turn-key")
    assert t1 == t2
    assert sum(m.calls for m in targets.models.values()) == 1
    service.pick(a1.id, person_id, 0, 1)
    service.pick(a1.id, person_id, 0, 1)
    service.finish(a1.id, person_id, 3)
    service.finish(a1.id, person_id, 3)
    assert (count(store, Task), count(store, Attempt), count(store, Turn)) == (1, 1, 1)
    assert count(store, Candidate) == 2
    with store.session() as session:
        assert session.scalar(select(Attempt.rating)) == 3.0


def test_a_model_error_writes_nothing_and_the_retry_works(
    service: CampaignService, store: Store, targets, person_id: int
):
    task = service.start_task(person_id)
    attempt = service.start_attempt(task.id, person_id, "goal", "k")
    for model in targets.models.values():
        model.fail_times = 1
    with pytest.raises(BackendError):
        service.add_turn(attempt.id, person_id, "hi", "t0")
    assert (count(store, Turn), count(store, Candidate)) == (0, 0)
    turn = service.add_turn(attempt.id, person_id, "hi", "t0")
    assert turn.index == 0 and len(turn.candidates) == 2


def test_a_crash_inside_model_code_becomes_a_backend_error(store: Store, targets, person_id: int):
    from redline.campaign import CampaignConfig

    class Broken:
        info = targets.infos[0]

        def reply(self, conversation, n=2, seed=None):
            raise RuntimeError("CUDA out of memory")

    service = CampaignService(
        store, CampaignConfig(targets=(targets.infos[0],)), lambda name: Broken()
    )
    task = service.start_task(person_id)
    attempt = service.start_attempt(task.id, person_id, "goal", "k")
    with pytest.raises(BackendError, match="RuntimeError"):
        service.add_turn(attempt.id, person_id, "hi", "t0")
    assert count(store, Turn) == 0


def test_rules_of_the_conversation(service: CampaignService, person_id: int):
    task = service.start_task(person_id)
    attempt = service.start_attempt(task.id, person_id, "goal", "k")
    with pytest.raises(ConflictError, match="at least one message"):
        service.finish(attempt.id, person_id, 2)
    service.add_turn(attempt.id, person_id, "hi", "t0")
    with pytest.raises(ConflictError, match="pick"):
        service.add_turn(attempt.id, person_id, "again", "t1")
    with pytest.raises(ConflictError, match="pick"):
        service.finish(attempt.id, person_id, 2)
    service.pick(attempt.id, person_id, 0, 0)
    with pytest.raises(ConflictError, match="final"):
        service.pick(attempt.id, person_id, 0, 1)
    with pytest.raises(RedlineError, match="empty"):
        service.add_turn(attempt.id, person_id, "   ", "t1")
    with pytest.raises(RedlineError, match="0 to 4"):
        service.finish(attempt.id, person_id, 5)
    service.finish(attempt.id, person_id, 4)
    with pytest.raises(ConflictError, match="finished"):
        service.add_turn(attempt.id, person_id, "more", "t9")
    with pytest.raises(ConflictError, match="already finished with rating 4; a rating is final"):
        service.finish(attempt.id, person_id, 1)
    service.finish(attempt.id, person_id, 4)  # the same answer again: a double submit


def test_nobody_touches_another_persons_attempt(
    service: CampaignService, store: Store, person_id: int
):
    with store.transaction() as session:
        mallory = create_person(session, "mallory", Role.REDTEAMER, "mturk").id
    task = service.start_task(person_id)
    attempt = service.start_attempt(task.id, person_id, "goal", "k")
    # Someone else's record answers exactly as a missing one: ids cannot be probed.
    for call in (
        lambda: service.attempt(attempt.id, mallory),
        lambda: service.add_turn(attempt.id, mallory, "hi", "x"),
        lambda: service.pick(attempt.id, mallory, 0, 0),
    ):
        with pytest.raises(NotFoundError) as theirs:
            call()
        assert str(theirs.value) == f"attempt {attempt.id} is not one of yours, or does not exist"
    with pytest.raises(NotFoundError) as missing:
        service.attempt(attempt.id + 1000, mallory)
    assert (
        str(missing.value) == f"attempt {attempt.id + 1000} is not one of yours, or does not exist"
    )
    with pytest.raises(NotFoundError) as task_theirs:
        service.start_attempt(task.id, mallory, "goal", "y")
    assert "is not one of yours, or does not exist" in str(task_theirs.value)
    assert count(store, Turn) == 0


def test_assignment_follows_the_weights_and_stays_balanced(
    make_service: Callable[..., CampaignService], store: Store
):
    service = make_service(weights={"scripted-0m/plain": 3.0}, task_size=100)
    with store.transaction() as session:
        pid = create_person(session, "bob", Role.REDTEAMER, "staff").id
    task = service.start_task(pid)
    for n in range(40):
        attempt = service.start_attempt(task.id, pid, "goal", f"k{n}")
        service.add_turn(attempt.id, pid, "hi", "t")
        service.pick(attempt.id, pid, 0, 0)
        service.finish(attempt.id, pid, 1)
    with store.session() as session:
        rows = dict(
            session.execute(
                select(Target.name, func.count(Attempt.id)).join(Attempt).group_by(Target.name)
            ).all()
        )
    assert rows == {"scripted-0m/plain": 30, "scripted-0m/hhh": 10}


def test_choose_target_breaks_ties_at_random():
    weights = {"a": 1.0, "b": 1.0, "c": 0.0}
    picks = {choose_target({}, weights, random.Random(seed)) for seed in range(20)}
    assert picks == {"a", "b"}
    assert choose_target({"a": 2, "b": 1}, weights, random.Random(0)) == "b"


def test_active_time_counts_work_and_skips_breaks(store: Store, targets, person_id: int):
    from redline.campaign import CampaignConfig

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    service = CampaignService(
        store,
        CampaignConfig(targets=targets.infos, idle_cap_seconds=300),
        targets,
        clock=lambda: now[0],
    )
    task = service.start_task(person_id)
    now[0] += timedelta(seconds=60)
    attempt = service.start_attempt(task.id, person_id, "goal", "k")
    now[0] += timedelta(seconds=30)
    service.heartbeat(person_id)
    now[0] += timedelta(hours=2)  # a break: not paid as work
    service.add_turn(attempt.id, person_id, "hi", "t0")
    now[0] += timedelta(seconds=10)
    service.pick(attempt.id, person_id, 0, 0)
    assert service.task(task.id, person_id).active_seconds == pytest.approx(100.0)


def test_member_numbers_continue_after_imported_ones(store: Store):
    from redline.store.models import Person

    with store.transaction() as session:
        session.add(Person(member_number=41000, handle="imported-1", role=Role.REDTEAMER))
    with store.transaction() as session:
        assert create_person(session, "new", Role.REDTEAMER, "staff").member_number == 41001
