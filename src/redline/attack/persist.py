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

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redline.attack.results import ConversationResult
from redline.store import Store
from redline.store.models import AttemptStatus, Origin, Role
from redline.store.writes import (
    CandidateRow,
    Conversation,
    TargetRow,
    TurnRow,
    add_conversations,
    ensure_target,
    get_or_create_person,
    stored_hashes,
)
from redline.targets.base import TargetInfo

ATTACKER_POOL = "automated"


def make_key(kind: str, *parts: object) -> str:
    """A 64-hex key for ``content_hash``; ``kind`` keeps replay and attack keys apart."""
    digest = hashlib.sha256(kind.encode())
    for part in parts:
        digest.update(b"\0" + str(part).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def done_keys(store: Store, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` are stored already (finished work to skip)."""
    with store.session() as session:
        return stored_hashes(session, keys)


def attacker_person(store: Store, attacker: str) -> int:
    """The Person row standing for an automated attacker (pool ``automated``).

    Automated attempts need an author like human ones do, so per-author analyses can
    include or exclude machines by pool. The member number is negative (hh-rlhf member
    numbers are not) and derived from the name, so it is stable across databases.
    """
    handle = f"attacker:{attacker}"
    number = -int(hashlib.sha256(handle.encode()).hexdigest()[:12], 16)
    with store.transaction() as session:
        person = get_or_create_person(
            session, handle, Role.REDTEAMER, ATTACKER_POOL, member_number=number
        )
        return person.id


def _conversation(
    result: ConversationResult, origin: Origin, target_id: int, person_id: int | None
) -> Conversation:
    now = datetime.now(UTC)
    attempt = {
        "task_id": None,
        "target_id": target_id,
        "person_id": person_id,
        "origin": origin,
        "source_attempt_id": result.source_attempt_id,
        "task_description": result.task_description,
        "status": AttemptStatus.FINISHED,
        "created_at": now,
        "finished_at": now,
        "min_harmlessness": result.min_harmlessness,
        "mean_harmlessness": result.mean_harmlessness,
        "task_description_harmlessness": result.task_description_harmlessness,
        "scored_by": result.scored_by,
        "content_hash": result.key,
        "extra": result.extra,
    }
    turns = [
        TurnRow(
            turn.human,
            [
                CandidateRow(
                    cand.text,
                    picked=j == 0,
                    harmlessness=cand.harmlessness,
                    scored_by=result.scored_by if cand.harmlessness is not None else None,
                    latency_s=cand.latency_s,
                    meta=cand.meta,
                )
                for j, cand in enumerate(turn.candidates)
            ],
            created_at=now,
        )
        for turn in result.turns
    ]
    return Conversation(attempt, turns)


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
            ids[result.target] = ensure_target(session, TargetRow.of(targets[result.target])).id
    add_conversations(
        session, [_conversation(r, origin, ids[r.target], person_id) for r in results]
    )


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
