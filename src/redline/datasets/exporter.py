"""Export the store in the hh-rlhf formats: red-team attempts and comparison pairs.

Exports are pure functions of the store. Files are written to a temporary name and
renamed at the end, so an interrupted export never leaves a half-written file behind.
The same store gives the same bytes: the JSON-array layout is the published one
(:data:`ARRAY_INDENT`), gzip output carries no file name and a fixed time, and the file
gets the permissions the umask gives any new file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from redline.datasets.formats import ExportFormat
from redline.datasets.hhrlhf import TD_SCORE_KEY
from redline.datasets.transcripts import ASSISTANT, HUMAN, render_messages
from redline.errors import RedlineError
from redline.store import Attempt, AttemptStatus, Person, Turn

# The layout of the published red-team file as the repository holds it
# (tests/data/red_team_attempts.sample.json, compared byte for byte by the tests):
# two-space indent, non-ASCII text written as is, no newline after the closing bracket.
ARRAY_INDENT = 2


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


def member_id(person: Person) -> int:
    """The id a file shows for a person: imported people keep the id they came with;
    platform people show their member number."""
    if person.source is not None and person.source_member_id is not None:
        return person.source_member_id
    return person.member_number


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
            "red_team_member_id": member_id(attempt.person),
            "is_upworker": attempt.person.pool == "upwork",
            "tags": attempt.tags,
            **(attempt.extra or {}),
        }


def comparison_records(session: Session) -> Iterator[dict[str, Any]]:
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
                    yield {"chosen": chosen, "rejected": rejected, **(attempt.extra or {})}
            if picked is not None:
                history.append((ASSISTANT, picked.text))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _array_item(record: dict[str, Any], indent: int) -> str:
    """One element as ``json.dumps(records, indent=indent)`` writes it inside the array."""
    pad = " " * indent
    text = json.dumps(record, ensure_ascii=False, indent=indent)
    return pad + text.replace("\n", "\n" + pad)


def _write_stream(
    stream: IO[str], records: Iterable[dict[str, Any]], fmt: ExportFormat, indent: int
) -> int:
    count = 0
    if fmt is ExportFormat.JSON_ARRAY:
        for record in records:
            stream.write(",\n" if count else "[\n")
            stream.write(_array_item(record, indent))
            count += 1
        stream.write("\n]" if count else "[]")
    else:
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False))
            stream.write("\n")
            count += 1
    return count


def write_records(
    records: Iterable[dict[str, Any]],
    out: str | Path,
    fmt: ExportFormat = ExportFormat.JSONL,
    *,
    indent: int = ARRAY_INDENT,
) -> int:
    """Write records as JSON lines or one JSON array; gzip when the name ends in ``.gz``.

    Returns the number of records written. The file appears only when complete, with
    the umask's permissions (``mkstemp`` alone would leave it private, 0600).
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise RedlineError(
            f"cannot write {out}: folder {out.parent} does not exist; create it or pick another"
        )
    handle, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as raw:
            if out.name.endswith(".gz"):
                # No file name and mtime 0: the same store gives the same bytes.
                with (
                    gzip.GzipFile(
                        filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0
                    ) as packed,
                    io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as stream,
                ):
                    count = _write_stream(stream, records, fmt, indent)
            else:
                with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as stream:
                    count = _write_stream(stream, records, fmt, indent)
                    stream.flush()
                    raw.flush()
        os.chmod(tmp, 0o666 & ~_umask())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return count
