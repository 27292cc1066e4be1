"""The attempts frame plus what comparisons need: the source link and a pairing key.

Why here and not in ``analysis.frame``: only attack comparisons need these columns; this
adds them to :func:`redline.analysis.frame.attempts_frame` with one extra query.
``pair_key`` says which attempts on different targets are "the same attack": a replay's
source attempt, else the exact text of the first human turn (automated attacks of one
recipe send the same opener to every target).
"""

from __future__ import annotations

import hashlib

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.analysis.frame import attempts_frame
from redline.store.models import Attempt, Turn


def comparison_frame(session: Session) -> pd.DataFrame:
    """One row per attempt with ``source_attempt_id``, ``first_human`` and ``pair_key``."""
    frame = attempts_frame(session)
    links = pd.DataFrame(
        session.execute(select(Attempt.id, Attempt.source_attempt_id)).all(),
        columns=["attempt_id", "source_attempt_id"],
    )
    openers = pd.DataFrame(
        session.execute(select(Turn.attempt_id, Turn.human).where(Turn.index == 0)).all(),
        columns=["attempt_id", "first_human"],
    )
    frame = frame.merge(links, on="attempt_id", how="left").merge(
        openers, on="attempt_id", how="left"
    )
    return add_pair_key(frame)


def add_pair_key(frame: pd.DataFrame) -> pd.DataFrame:
    """``pair_key`` = ``src:<id>`` for replays, ``open:<sha1 of opener>`` otherwise."""
    frame = frame.copy()

    def key(row: pd.Series) -> str | None:
        source = row.get("source_attempt_id")
        if source is not None and not pd.isna(source):
            return f"src:{int(source)}"
        opener = row.get("first_human")
        if isinstance(opener, str) and opener.strip():
            return "open:" + hashlib.sha1(opener.strip().encode()).hexdigest()[:16]
        return None

    frame["pair_key"] = frame.apply(key, axis=1) if len(frame) else pd.Series(dtype=object)
    return frame
