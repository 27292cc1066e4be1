"""Light read queries for the pages people wait on: plain columns, no ORM object graphs.

Why: every chat page and every turn reads the whole conversation; loading it as ORM
objects (with identity map, JSON metadata and collections) cost several times more than
the two column queries here, and under 50 concurrent people that is the server's budget.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redline.campaign.views import AttemptView, CandidateView, TaskView, TurnView
from redline.errors import NotFoundError
from redline.store.models import Attempt, AttemptStatus, Candidate, Task, Turn


def not_yours(kind: str, ident: int) -> str:
    """One answer for someone else's record and a missing one, so ids cannot be probed."""
    return f"{kind} {ident} is not one of yours, or does not exist"


def attempt_view(session: Session, attempt_id: int, person_id: int) -> AttemptView:
    """One of the person's attempts with its turns and candidates (others: NotFoundError)."""
    row = session.execute(
        select(
            Attempt.person_id,
            Attempt.task_id,
            Attempt.status,
            Attempt.task_description,
            Attempt.rating,
            Attempt.harmfulness,
            Attempt.actionability,
        ).where(Attempt.id == attempt_id)
    ).first()
    if row is None or row.person_id != person_id:
        raise NotFoundError(not_yours("attempt", attempt_id))
    return AttemptView(
        id=attempt_id,
        task_id=row.task_id,
        person_id=row.person_id,
        status=row.status,
        task_description=row.task_description or "",
        rating=row.rating,
        harmfulness=row.harmfulness,
        actionability=row.actionability,
        turns=turn_views(session, attempt_id),
    )


def turn_views(session: Session, attempt_id: int) -> tuple[TurnView, ...]:
    rows = session.execute(
        select(
            Turn.id,
            Turn.index.label("turn_index"),
            Turn.human,
            Candidate.index.label("c_index"),
            Candidate.text,
            Candidate.picked,
        )
        .outerjoin(Candidate, Candidate.turn_id == Turn.id)
        .where(Turn.attempt_id == attempt_id)
        .order_by(Turn.index, Candidate.index)
    ).all()
    turns: list[TurnView] = []
    pending: list[CandidateView] = []
    for i, row in enumerate(rows):
        if row.c_index is not None:
            pending.append(CandidateView(index=row.c_index, text=row.text, picked=row.picked))
        last_of_turn = i + 1 == len(rows) or rows[i + 1].id != row.id
        if last_of_turn:
            turns.append(
                TurnView(
                    id=row.id, index=row.turn_index, human=row.human, candidates=tuple(pending)
                )
            )
            pending = []
    return tuple(turns)


def turn_index_by_key(session: Session, attempt_id: int, key: str) -> int | None:
    return session.scalar(
        select(Turn.index).where(Turn.attempt_id == attempt_id, Turn.idempotency_key == key)
    )


def task_view(session: Session, task: Task) -> TaskView:
    """A task with its progress, counted in SQL rather than by loading its attempts (one
    query: every chat page shows it, and on PostgreSQL each query is a round trip)."""
    finished, current = session.execute(
        select(
            func.count(Attempt.id).filter(Attempt.status == AttemptStatus.FINISHED),
            func.min(Attempt.id).filter(Attempt.status == AttemptStatus.IN_PROGRESS),
        ).where(Attempt.task_id == task.id)
    ).one()
    return TaskView(
        id=task.id,
        person_id=task.person_id,
        size=task.size,
        finished_attempts=int(finished or 0),
        current_attempt_id=current,
        finished=task.finished_at is not None,
        active_seconds=task.active_seconds,
    )
