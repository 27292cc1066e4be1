"""What a campaign admin sees: the live dashboard's numbers, any attempt in full, and
the store's hh-rlhf exports to preview and download.

The numbers come straight from SQL aggregates (cheap enough to poll) and cover attempts
made on this platform (origin ``human``), not imported datasets. Unlike the red teamer's
views, an attempt in full names its target and author: admins run the campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from redline.attack.lineage import AttackTree, attack_tree
from redline.campaign.views import TurnView
from redline.datasets.exporter import comparison_records, red_team_records
from redline.errors import NotFoundError
from redline.store import Store
from redline.store.models import Attempt, AttemptStatus, Origin, Person, Role, Target, Turn

EXPORTS: dict[str, Callable[[Session], Iterator[dict[str, Any]]]] = {
    "red-team-attempts": red_team_records,
    "comparisons": comparison_records,
}


def export_records(store: Store, kind: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The records of the export called ``kind`` (the first ``limit``), read as they are
    consumed, so a large store streams instead of sitting in memory.

    An unknown ``kind`` raises NotFoundError here, before a download has begun.
    """
    if kind not in EXPORTS:
        raise NotFoundError(f"no export called {kind!r}; try {sorted(EXPORTS)}")
    return _read(store, EXPORTS[kind], limit)


def _read(
    store: Store, records: Callable[[Session], Iterator[dict[str, Any]]], limit: int | None
) -> Iterator[dict[str, Any]]:
    with store.session() as session:
        yield from islice(records(session), limit)


@dataclass(frozen=True)
class Author:
    """Who wrote an attempt, as the admin page shows them."""

    handle: str
    member_number: int
    pool: str


@dataclass(frozen=True)
class FullAttempt:
    """An attempt with everything about it, its target and author included."""

    id: int
    target: str | None
    author: Author | None
    status: AttemptStatus
    rating: float | None
    harmfulness: int | None
    actionability: int | None
    min_harmlessness: float | None
    task_description: str | None
    turns: tuple[TurnView, ...]
    origin: Origin = Origin.HUMAN
    #: An automated attempt's attack: its strategy and the tree of the conversations the
    #: strategy stored for it (None for people's attempts and lone conversations).
    lineage: AttackTree | None = None


def full_attempt(store: Store, attempt_id: int) -> FullAttempt:
    """One attempt in full, for admins (a missing one raises NotFoundError); an
    automated one with its attack's lineage, so a person can replay and review the
    search that produced it, node by node."""
    with store.session() as session:
        row = session.scalar(
            select(Attempt)
            .where(Attempt.id == attempt_id)
            .options(
                selectinload(Attempt.turns).selectinload(Turn.candidates),
                selectinload(Attempt.person),
                selectinload(Attempt.target),
            )
        )
        if row is None:
            raise NotFoundError(f"attempt {attempt_id} does not exist")
        person = row.person
        return FullAttempt(
            id=row.id,
            target=row.target.name if row.target else None,
            author=Author(person.handle, person.member_number, person.pool) if person else None,
            status=row.status,
            rating=row.rating,
            harmfulness=row.harmfulness,
            actionability=row.actionability,
            min_harmlessness=row.min_harmlessness,
            task_description=row.task_description,
            turns=tuple(TurnView.of(turn) for turn in row.turns),
            origin=row.origin,
            lineage=attack_tree(session, row.id) if row.origin == Origin.AUTOMATED else None,
        )


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def dashboard_data(store: Store, recent: int = 20) -> dict[str, Any]:
    """Attempts per target and per red teamer, the rating histogram, recent activity."""
    human = Attempt.origin == Origin.HUMAN
    finished = func.sum(case((Attempt.status == AttemptStatus.FINISHED, 1), else_=0))
    with store.session() as session:
        per_target = [
            {
                "target": name,
                "model_type": model_type,
                "size": size,
                "attempts": int(n),
                "finished": int(done or 0),
                "mean_rating": _round(rating),
                "mean_min_harmlessness": _round(harm, 3),
                "scored": int(scored),
            }
            for name, model_type, size, n, done, rating, harm, scored in session.execute(
                select(
                    Target.name,
                    Target.model_type,
                    Target.size_label,
                    func.count(Attempt.id),
                    finished,
                    func.avg(Attempt.rating),
                    func.avg(Attempt.min_harmlessness),
                    func.count(Attempt.min_harmlessness),
                )
                .join(Attempt, Attempt.target_id == Target.id)
                .where(human)
                .group_by(Target.name, Target.model_type, Target.size_label)
                .order_by(Target.name)
            ).all()
        ]
        per_member = [
            {
                "handle": handle,
                "member": int(member),
                "pool": pool,
                "attempts": int(n),
                "finished": int(done or 0),
                "mean_rating": _round(rating),
            }
            for handle, member, pool, n, done, rating in session.execute(
                select(
                    Person.handle,
                    Person.member_number,
                    Person.pool,
                    func.count(Attempt.id),
                    finished,
                    func.avg(Attempt.rating),
                )
                .join(Attempt, Attempt.person_id == Person.id)
                .where(human)
                .group_by(Person.handle, Person.member_number, Person.pool)
                .order_by(func.count(Attempt.id).desc(), Person.handle)
            ).all()
        ]
        histogram = {str(k): 0 for k in range(5)}
        for rating, n in session.execute(
            select(Attempt.rating, func.count())
            .where(human, Attempt.rating.is_not(None))
            .group_by(Attempt.rating)
        ).all():
            key = str(round(rating or 0.0))
            histogram[key] = histogram.get(key, 0) + int(n)
        turns = (
            select(Turn.attempt_id, func.count().label("n"), func.max(Turn.created_at).label("at"))
            .group_by(Turn.attempt_id)
            .subquery()
        )
        last = func.coalesce(Attempt.finished_at, turns.c.at, Attempt.created_at)
        recent_rows = session.execute(
            select(
                Attempt.id,
                Person.handle,
                Target.name,
                Attempt.task_description,
                Attempt.status,
                Attempt.rating,
                func.coalesce(turns.c.n, 0),
                last,
            )
            .outerjoin(Person, Person.id == Attempt.person_id)
            .outerjoin(Target, Target.id == Attempt.target_id)
            .outerjoin(turns, turns.c.attempt_id == Attempt.id)
            .where(human)
            .order_by(last.desc(), Attempt.id.desc())
            .limit(recent)
        ).all()
        totals = {
            # People who joined here: imported red teamers (``source`` set) made none of
            # the attempts this page counts.
            "people": session.scalar(
                select(func.count())
                .select_from(Person)
                .where(Person.role == Role.REDTEAMER, Person.source.is_(None))
            )
            or 0,
            "attempts": sum(t["attempts"] for t in per_target),
            "finished": sum(t["finished"] for t in per_target),
            "turns": session.scalar(
                select(func.count(Turn.id))
                .join(Attempt, Attempt.id == Turn.attempt_id)
                .where(human)
            )
            or 0,
        }
    return {
        "totals": totals,
        "per_target": per_target,
        "per_member": per_member,
        "histogram": histogram,
        "recent": [
            {
                "attempt": aid,
                "handle": handle or "",
                "target": target or "",
                "task_description": (desc or "")[:200],
                "status": status.value if status is not None else "",
                "rating": rating,
                "turns": int(n),
                "when": _when(at),
            }
            for aid, handle, target, desc, status, rating, n, at in recent_rows
        ],
    }
