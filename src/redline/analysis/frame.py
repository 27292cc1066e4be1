"""The store as a data frame: one row per attempt. Analyses take this frame, never the store.

Columns: attempt_id, origin, status, target, family, model_type, num_params (int),
size_label, member (public member number), pool, is_upworker, rating, harmfulness,
actionability, min_harmlessness, mean_harmlessness, task_description_harmlessness,
scored_by, tags (list or None), task_description, created_at, n_turns.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redline.store import Attempt, Person, Target, Turn

COLUMNS = [
    "attempt_id",
    "origin",
    "status",
    "target",
    "family",
    "model_type",
    "num_params",
    "size_label",
    "member",
    "pool",
    "is_upworker",
    "rating",
    "harmfulness",
    "actionability",
    "min_harmlessness",
    "mean_harmlessness",
    "task_description_harmlessness",
    "scored_by",
    "tags",
    "task_description",
    "created_at",
    "n_turns",
]


def attempts_frame(session: Session) -> pd.DataFrame:
    """Load every attempt with its target and author (outer joins: either may be unknown)."""
    turns = (
        select(Turn.attempt_id, func.count().label("n_turns")).group_by(Turn.attempt_id).subquery()
    )
    query = (
        select(
            Attempt.id.label("attempt_id"),
            Attempt.origin,
            Attempt.status,
            Target.name.label("target"),
            Target.family,
            Target.model_type,
            Target.num_params,
            Target.size_label,
            Person.member_number.label("member"),
            Person.pool,
            Attempt.rating,
            Attempt.harmfulness,
            Attempt.actionability,
            Attempt.min_harmlessness,
            Attempt.mean_harmlessness,
            Attempt.task_description_harmlessness,
            Attempt.scored_by,
            Attempt.tags,
            Attempt.task_description,
            Attempt.created_at,
            func.coalesce(turns.c.n_turns, 0).label("n_turns"),
        )
        .outerjoin(Target, Attempt.target_id == Target.id)
        .outerjoin(Person, Attempt.person_id == Person.id)
        .outerjoin(turns, turns.c.attempt_id == Attempt.id)
        .order_by(Attempt.id)
    )
    rows = session.execute(query).all()
    frame = pd.DataFrame([row._asdict() for row in rows])
    if frame.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS})
    frame["origin"] = frame["origin"].map(str)
    frame["status"] = frame["status"].map(str)
    frame["is_upworker"] = frame["pool"] == "upwork"
    for column in (
        "rating",
        "min_harmlessness",
        "mean_harmlessness",
        "task_description_harmlessness",
    ):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame[COLUMNS]
