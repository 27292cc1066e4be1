"""The store as a data frame: one row per attempt. Analyses take this frame, never the store.

Columns: attempt_id, origin, status, target, family, model_type, num_params (int),
size_label, member (public member number), pool, is_upworker, rating, harmfulness,
actionability, min_harmlessness, mean_harmlessness, task_description_harmlessness,
scored_by, tags (list or None), task_description, created_at, n_turns, strategy (the
automated attack strategy an attempt records in ``Attempt.extra``, else None).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redline.store import Attempt, Origin, Person, Target, Turn
from redline.vocabulary import UNRECORDED_STRATEGY

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
    "strategy",
]
#: How an attempt's origin reads where people and machines are told apart (the attack
#: map coloured by origin, strategy comparisons): published and platform attempts are
#: people's, replays are people's attacks re-sent, automated ones go by their strategy.
HUMAN_ORIGIN = "human"


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
    frame["strategy"] = frame["attempt_id"].map(_strategies(session))
    frame["strategy"] = frame["strategy"].astype(object).where(frame["strategy"].notna(), None)
    return frame[COLUMNS]


def _strategies(session: Session) -> dict[int, str]:
    """attempt id -> the strategy an automated attempt's lineage names (only those)."""
    rows = session.execute(
        select(Attempt.id, Attempt.extra).where(Attempt.origin == Origin.AUTOMATED)
    ).all()
    return {
        attempt_id: str(extra["strategy"])
        for attempt_id, extra in rows
        if isinstance(extra, dict) and extra.get("strategy")
    }


def attack_origins(frame: pd.DataFrame) -> pd.Series:
    """Per attempt: ``human`` (platform and published attempts), ``replay``, or an
    automated attempt's strategy (:data:`UNRECORDED_STRATEGY` when it records none)."""
    origin = frame["origin"].map(lambda o: str(getattr(o, "value", o)))
    strategy = frame["strategy"] if "strategy" in frame else pd.Series(None, index=frame.index)
    automated = strategy.where(strategy.notna(), UNRECORDED_STRATEGY)
    out = origin.where(origin != "automated", automated)
    return out.replace({"imported": HUMAN_ORIGIN}).astype(object)
