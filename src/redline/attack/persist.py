"""Writing attack results to the store, once each.

Why ``content_hash`` as the key: it is the store's existing unique column for "this
conversation is already here" (imports use it). A replay's key is a hash of (source
attempt, target, turns mode, variant) and an automated attack's a hash of its recipe, so
a rerun skips finished work by a lookup, and two runs racing to write the same attack
cannot both succeed (the second write finds the unique key taken and is dropped).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redline.attack.results import ConversationResult
from redline.campaign.service import ensure_target
from redline.store import Store
from redline.store.models import (
    Attempt,
    AttemptStatus,
    Candidate,
    Origin,
    Person,
    Role,
    Turn,
)
from redline.targets.base import TargetInfo

ATTACKER_POOL = "automated"
_CHUNK = 500


def make_key(kind: str, *parts: object) -> str:
    """A 64-hex key for ``content_hash``; ``kind`` keeps replay and attack keys apart."""
    digest = hashlib.sha256(kind.encode())
    for part in parts:
        digest.update(b"\0" + str(part).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def done_keys(store: Store, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` are stored already (finished work to skip)."""
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    with store.session() as session:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found.update(
                k
                for k in session.scalars(
                    select(Attempt.content_hash).where(Attempt.content_hash.in_(chunk))
                )
                if k is not None
            )
    return found


def attacker_person(store: Store, attacker: str) -> int:
    """The Person row standing for an automated attacker (pool ``automated``).

    Automated attempts need an author like human ones do, so per-author analyses can
    include or exclude machines by pool. The member number is negative (hh-rlhf member
    numbers are not) and derived from the name, so it is stable across databases.
    """
    handle = f"attacker:{attacker}"
    with store.transaction() as session:
        person = session.scalar(select(Person).where(Person.handle == handle))
        if person is None:
            number = -int(hashlib.sha256(handle.encode()).hexdigest()[:12], 16)
            person = Person(
                member_number=number, handle=handle, role=Role.REDTEAMER, pool=ATTACKER_POOL
            )
            try:
                with session.begin_nested():
                    session.add(person)
            except IntegrityError:
                person = session.scalars(select(Person).where(Person.handle == handle)).one()
        session.flush()
        return person.id


def _attempt(
    result: ConversationResult, origin: Origin, target_id: int, person_id: int | None
) -> Attempt:
    now = datetime.now(UTC)
    attempt = Attempt(
        target_id=target_id,
        person_id=person_id,
        origin=origin,
        source_attempt_id=result.source_attempt_id,
        task_description=result.task_description,
        status=AttemptStatus.FINISHED,
        created_at=now,
        finished_at=now,
        min_harmlessness=result.min_harmlessness,
        mean_harmlessness=result.mean_harmlessness,
        task_description_harmlessness=result.task_description_harmlessness,
        scored_by=result.scored_by,
        content_hash=result.key,
        extra=result.extra,
    )
    attempt.turns = [
        Turn(
            index=i,
            human=turn.human,
            created_at=now,
            candidates=[
                Candidate(
                    index=j,
                    text=cand.text,
                    picked=j == 0,
                    harmlessness=cand.harmlessness,
                    scored_by=result.scored_by if cand.harmlessness is not None else None,
                    latency_s=cand.latency_s,
                    meta=cand.meta,
                )
                for j, cand in enumerate(turn.candidates)
            ],
        )
        for i, turn in enumerate(result.turns)
    ]
    return attempt


def _add_all(
    session: Session,
    results: Sequence[ConversationResult],
    origin: Origin,
    targets: dict[str, TargetInfo],
    person_id: int | None,
) -> None:
    ids: dict[str, int] = {}
    for result in results:
        if result.target not in ids:
            ids[result.target] = ensure_target(session, targets[result.target]).id
        session.add(_attempt(result, origin, ids[result.target], person_id))
    session.flush()


def write_results(
    store: Store,
    results: Sequence[ConversationResult],
    *,
    origin: Origin,
    targets: dict[str, TargetInfo],
    person_id: int | None = None,
) -> int:
    """Store finished results (failed ones are skipped: the next run retries them).

    One transaction per call; if another run stored some of these keys meanwhile, each
    result is written on its own and the taken ones are dropped. Returns rows written.
    """
    good = [r for r in results if r.error is None and r.turns]
    if not good:
        return 0
    try:
        with store.transaction() as session:
            _add_all(session, good, origin, targets, person_id)
        return len(good)
    except IntegrityError:
        written = 0
        for result in good:
            try:
                with store.transaction() as session:
                    _add_all(session, [result], origin, targets, person_id)
                written += 1
            except IntegrityError:
                continue
        return written
