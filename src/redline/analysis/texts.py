"""Transcripts of attempts as a data frame (the attack map and template detection read text).

Why not :func:`redline.datasets.attempt_transcript` on ORM objects: loading 39k attempts
with their turns and candidates through the ORM takes tens of seconds; three Core
queries take a few. The result is the same text (picked replies, raw transcript when the
import kept one), which a test checks against ``attempt_transcript`` attempt by attempt.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.datasets.transcripts import ASSISTANT, HUMAN, render_messages
from redline.store import Attempt, Candidate, Turn

TEXT_COLUMNS = ["attempt_id", "transcript", "first_human", "task_description"]


def transcripts_frame(session: Session) -> pd.DataFrame:
    """One row per attempt: the transcript, its first human message and the task description."""
    picked = dict(
        session.execute(select(Candidate.turn_id, Candidate.text).where(Candidate.picked)).all()
    )
    turns: dict[int, list[tuple[int, str | None, int]]] = defaultdict(list)
    for attempt_id, index, human, turn_id in session.execute(
        select(Turn.attempt_id, Turn.index, Turn.human, Turn.id)
    ):
        turns[attempt_id].append((index, human, turn_id))
    rows = []
    for attempt_id, raw, task in session.execute(
        select(Attempt.id, Attempt.raw_transcript, Attempt.task_description).order_by(Attempt.id)
    ):
        messages: list[tuple[str, str]] = []
        first_human = ""
        for _, human, turn_id in sorted(turns.get(attempt_id, [])):
            if human is not None:
                messages.append((HUMAN, human))
                first_human = first_human or human
            reply = picked.get(turn_id)
            if reply is not None:
                messages.append((ASSISTANT, reply))
        text = raw if raw is not None else render_messages(messages)
        rows.append((attempt_id, text, first_human, task or ""))
    return pd.DataFrame(rows, columns=TEXT_COLUMNS)
