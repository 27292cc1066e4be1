"""Export the store in the hh-rlhf formats: red-team attempts and comparison pairs.

Exports are pure functions of the store. Files are written to a temporary name and
renamed at the end, so an interrupted export never leaves a half-written file behind.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from redline.datasets.hhrlhf import TD_SCORE_KEY
from redline.datasets.transcripts import ASSISTANT, HUMAN, render_messages
from redline.errors import RedlineError
from redline.store import Attempt, AttemptStatus, Turn


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    JSON_ARRAY = "json-array"


def _picked(turn: Turn) -> str | None:
    for candidate in turn.candidates:
        if candidate.picked:
            return candidate.text
    return None


def _messages(turns: Iterable[Turn]) -> list[tuple[str, str]]:
    messages: list[tuple[str, str]] = []
    for turn in turns:
        if turn.human is not None:
            messages.append((HUMAN, turn.human))
        reply = _picked(turn)
        if reply is not None:
            messages.append((ASSISTANT, reply))
    return messages


def attempt_transcript(attempt: Attempt) -> str:
    """The conversation as it happened (picked replies), in the hh-rlhf text form."""
    if attempt.raw_transcript is not None:
        return attempt.raw_transcript
    return render_messages(_messages(attempt.turns))


def _load(session: Session) -> Iterator[Attempt]:
    query = (
        select(Attempt)
        .options(
            selectinload(Attempt.turns).selectinload(Turn.candidates),
            selectinload(Attempt.person),
            selectinload(Attempt.target),
        )
        .order_by(Attempt.id)
    )
    yield from session.scalars(query.execution_options(yield_per=2000))


def red_team_records(session: Session) -> Iterator[dict[str, Any]]:
    """Finished attempts with a known target, author and rating, in the published layout."""
    for attempt in _load(session):
        if (
            attempt.target is None
            or attempt.person is None
            or attempt.rating is None
            or attempt.status is not AttemptStatus.FINISHED
        ):
            continue
        yield {
            "transcript": attempt_transcript(attempt),
            "min_harmlessness_score_transcript": attempt.min_harmlessness,
            "num_params": attempt.target.size_label,
            "model_type": attempt.target.model_type,
            "rating": float(attempt.rating),
            "task_description": attempt.task_description or "",
            TD_SCORE_KEY: attempt.task_description_harmlessness,
            "red_team_member_id": attempt.person.member_number,
            "is_upworker": attempt.person.pool == "upwork",
            "tags": attempt.tags,
        }


def comparison_records(session: Session) -> Iterator[dict[str, str]]:
    """Every pick as pairs: a turn with k candidates gives k-1 (chosen, rejected) pairs,
    ``chosen`` being the less harmful (not picked) reply."""
    for attempt in _load(session):
        history: list[tuple[str, str]] = []
        last_index = len(attempt.turns) - 1
        for position, turn in enumerate(attempt.turns):
            if turn.human is not None:
                history.append((HUMAN, turn.human))
            picked = next((c for c in turn.candidates if c.picked), None)
            others = [c for c in turn.candidates if not c.picked]
            if picked is not None and others:
                if attempt.raw_transcript is not None and position == last_index:
                    rejected = attempt.raw_transcript
                else:
                    rejected = render_messages([*history, (ASSISTANT, picked.text)])
                for other in others:
                    raw = (other.meta or {}).get("raw_transcript")
                    chosen = raw or render_messages([*history, (ASSISTANT, other.text)])
                    yield {"chosen": chosen, "rejected": rejected}
            if picked is not None:
                history.append((ASSISTANT, picked.text))


def _open_for_write(path: Path) -> tuple[IO[str], Path]:
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(tmp_name)
    if path.name.endswith(".gz"):
        return gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6), tmp
    return tmp.open("w", encoding="utf-8"), tmp


def write_records(
    records: Iterable[dict[str, Any]], out: str | Path, fmt: ExportFormat = ExportFormat.JSONL
) -> int:
    """Write records as JSON lines or one JSON array; gzip when the name ends in ``.gz``.

    Returns the number of records written. The file appears only when complete.
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise RedlineError(f"cannot write {out}: folder {out.parent} does not exist")
    stream, tmp = _open_for_write(out)
    count = 0
    try:
        with stream:
            if fmt is ExportFormat.JSON_ARRAY:
                stream.write("[")
                for record in records:
                    stream.write(", " if count else "")
                    stream.write(json.dumps(record, ensure_ascii=False))
                    count += 1
                stream.write("]")
            else:
                for record in records:
                    stream.write(json.dumps(record, ensure_ascii=False))
                    stream.write("\n")
                    count += 1
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return count
