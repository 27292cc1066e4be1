"""Double submits that arrive together: in one process and from two workers."""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import func, select

from redline.campaign import CampaignConfig, CampaignService
from redline.store import Store
from redline.store.models import Candidate, Turn
from redline.targets.scripted import ScriptedTarget


class SlowTarget(ScriptedTarget):
    """Takes a moment, so the twin request arrives while the first is generating."""

    def reply(self, conversation, n=2, seed=None):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return super().reply(conversation, n, seed)


def run_together(*calls) -> list[object]:  # type: ignore[no-untyped-def]
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def rows(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_double_click_in_one_process_calls_the_model_once(store: Store, person_id: int):
    target = SlowTarget()
    service = CampaignService(store, CampaignConfig(targets=(target.info,)), lambda n: target)
    task = service.start_task(person_id)
    attempt = service.start_attempt(task.id, person_id, "goal", "k")
    a, b = run_together(
        lambda: service.add_turn(attempt.id, person_id, "hi", "same"),
        lambda: service.add_turn(attempt.id, person_id, "hi", "same"),
    )
    assert a == b and target.calls == 1
    assert (rows(store, Turn), rows(store, Candidate)) == (1, 2)


def test_two_workers_with_the_same_form_store_one_turn(store: Store, person_id: int):
    """Two web workers (two services, no shared lock) race; the unique key decides."""
    target = SlowTarget()
    config = CampaignConfig(targets=(target.info,))
    one = CampaignService(store, config, lambda n: target, rng=random.Random(1))
    two = CampaignService(store, config, lambda n: target, rng=random.Random(2))
    task = one.start_task(person_id)
    attempt = one.start_attempt(task.id, person_id, "goal", "k")
    a, b = run_together(
        lambda: one.add_turn(attempt.id, person_id, "hi", "same"),
        lambda: two.add_turn(attempt.id, person_id, "hi", "same"),
    )
    assert not isinstance(a, Exception) and not isinstance(b, Exception), (a, b)
    assert a == b  # the second submit returns the first result
    assert (rows(store, Turn), rows(store, Candidate)) == (1, 2)
    # Two different messages racing for the same place: one wins, the other is told.
    one.pick(attempt.id, person_id, 0, 0)
    c, d = run_together(
        lambda: one.add_turn(attempt.id, person_id, "tab one", "k1"),
        lambda: two.add_turn(attempt.id, person_id, "tab two", "k2"),
    )
    outcomes = sorted(type(x).__name__ for x in (c, d))
    assert outcomes == ["ConflictError", "TurnView"], (c, d)
    assert rows(store, Turn) == 2
