"""Import hh-rlhf files into the store, all-or-nothing and idempotent.

Why bulk Core inserts: the published file has 38,961 attempts and ~150k messages; ORM
unit-of-work flushes would take minutes, ``INSERT ... RETURNING`` batches take seconds.
One transaction per file: a bad record found while writing leaves nothing behind.

Who wrote an attempt: a file's ``red_team_member_id`` is kept as the person's
``source_member_id`` under the import's ``source`` (``"hh-rlhf"`` unless told), never as
the platform's ``member_number``, so imported and platform people cannot share a key.

Imports hold the store's write lock (:func:`redline.store.engine.lock_for_writing`) from
their first read to their commit: a second import of the same file waits, then finds
every record already stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from redline.datasets.hhrlhf import (
    ComparisonRecord,
    EmptyFileError,
    FileKind,
    RedTeamRecord,
    parse_size,
    read_file,
)
from redline.datasets.transcripts import ParsedTurn, is_lossless
from redline.errors import DataFormatError, RedlineError, StoreError
from redline.store import Attempt, AttemptStatus, Candidate, Origin, Person, Role, Target, Turn
from redline.store.engine import Store, describe_db_error, lock_for_writing

PUBLISHED_SCORER = "hh-rlhf"
DEFAULT_SOURCE = "hh-rlhf"  # the published dataset: its member ids are one number space
IMPORTED_HANDLE = "{source}:{member}"
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DEFENCE_OF_MODEL_TYPE = {
    "plain lm": "plain",
    "context distillation": "hhh",
    "rejection sampling": "rs16",
    "rlhf": "rlhf",
}
_CHUNK = 500

Progress = Callable[[int, int], None]  # (attempts written so far, attempts to write)


@dataclass
class ImportReport:
    """What an import did; printed by the CLI and returned to callers."""

    path: str
    kind: FileKind | None  # None: the file held no records
    records: int = 0
    added: int = 0
    duplicates_in_file: int = 0  # repeats of an earlier record of the same file
    already_stored: int = 0  # records the store held before this import
    invalid: list[str] = field(default_factory=list)
    dry_run: bool = False
    source: str = DEFAULT_SOURCE

    @property
    def duplicates(self) -> int:
        """Records not added because they are stored or repeated (both kinds)."""
        return self.duplicates_in_file + self.already_stored


def imported_target_name(model_type: str, size_label: str) -> str:
    return f"hh-rlhf-{size_label.lower()}/{DEFENCE_OF_MODEL_TYPE[model_type]}"


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing_hashes(session: Session, hashes: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(hashes):
        found.update(
            session.scalars(select(Attempt.content_hash).where(Attempt.content_hash.in_(chunk)))
        )
    return found


def _ensure_targets(session: Session, records: list[RedTeamRecord]) -> dict[tuple[str, str], int]:
    wanted = {(r.model_type, r.num_params) for r in records}
    ids: dict[tuple[str, str], int] = {}
    for model_type, size in sorted(wanted):
        name = imported_target_name(model_type, size)
        target = session.scalar(select(Target).where(Target.name == name))
        if target is None:
            target = Target(
                name=name,
                family="hh-rlhf",
                num_params=parse_size(size),
                size_label=size,
                model_type=model_type,
                config={"source": "imported hh-rlhf red-team attempts"},
            )
            session.add(target)
            session.flush()
        ids[(model_type, size)] = target.id
    return ids


def check_source(source: str) -> str:
    """An import source names a dataset whose member ids form one number space."""
    if not _SOURCE_NAME.match(source):
        raise RedlineError(
            f"source {source[:40]!r} is not a valid name: use 1-100 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit (e.g. hh-rlhf, acme-2024)"
        )
    return source


def _ensure_people(
    session: Session, records: list[RedTeamRecord], path: Path, source: str
) -> dict[int, int]:
    """Person ids for the file's member ids, found or created under ``source``.

    New people get the next free ``member_number`` (Redline's own numbering, like
    platform users); their file id goes to ``source_member_id``.
    """
    pools: dict[int, tuple[str, str]] = {}
    for r in records:
        pool = "upwork" if r.is_upworker else "mturk"
        seen = pools.setdefault(r.red_team_member_id, (pool, r.where))
        if seen[0] != pool:
            raise DataFormatError(
                f"red team member {r.red_team_member_id} is {pool} here but {seen[0]} at "
                f"{seen[1]}; one person has one pool",
                path=str(path),
                record=r.where,
                field="is_upworker",
            )
    existing = {
        p.source_member_id: p
        for chunk in _chunks(sorted(pools))
        for p in session.scalars(
            select(Person).where(Person.source == source, Person.source_member_id.in_(chunk))
        )
    }
    next_number = max(session.scalar(select(func.max(Person.member_number))) or 0, 0) + 1
    for member, (pool, where) in pools.items():
        person = existing.get(member)
        if person is None:
            handle = IMPORTED_HANDLE.format(source=source, member=member)
            if session.scalar(select(Person.id).where(Person.handle == handle)) is not None:
                raise StoreError(
                    f"the handle {handle!r} for {source} member {member} already belongs to "
                    "another person; import with another --source name"
                )
            person = Person(
                member_number=next_number,
                source=source,
                source_member_id=member,
                handle=handle,
                role=Role.REDTEAMER,
                pool=pool,
            )
            next_number += 1
            session.add(person)
            existing[member] = person
        elif person.pool != pool:
            raise DataFormatError(
                f"{source} member {member} is already stored with pool {person.pool!r}, "
                f"this file says {pool!r}; if the file is from another dataset, import it "
                "with its own --source name",
                path=str(path),
                record=where,
                field="is_upworker",
            )
    session.flush()
    return {member: existing[member].id for member in pools}


@dataclass
class _Conversation:
    """An attempt's turns as rows to write: human text and (text, picked, meta) replies."""

    attempt: dict[str, Any]
    turns: list[tuple[str | None, list[tuple[str, bool, dict[str, Any] | None]]]]


def _red_team_rows(
    records: list[RedTeamRecord], targets: dict[tuple[str, str], int], people: dict[int, int]
) -> list[_Conversation]:
    rows = []
    for r in records:
        attempt = {
            "person_id": people[r.red_team_member_id],
            "target_id": targets[(r.model_type, r.num_params)],
            "origin": Origin.IMPORTED,
            "task_description": r.task_description,
            "rating": r.rating,
            "status": AttemptStatus.FINISHED,
            "min_harmlessness": r.min_harmlessness,
            "task_description_harmlessness": r.task_description_harmlessness,
            "scored_by": PUBLISHED_SCORER if r.min_harmlessness is not None else None,
            "tags": r.tags,
            "raw_transcript": None if is_lossless(r.transcript, r.turns) else r.transcript,
            "content_hash": r.content_hash,
            "extra": r.extra,
        }
        turns: list[tuple[str | None, list[tuple[str, bool, dict[str, Any] | None]]]] = [
            (t.human, [] if t.assistant is None else [(t.assistant, True, None)]) for t in r.turns
        ]
        rows.append(_Conversation(attempt, turns))
    return rows


def _comparison_rows(records: list[ComparisonRecord]) -> list[_Conversation]:
    rows = []
    for r in records:
        rejected_ok = is_lossless(r.rejected, r.rejected_turns)
        attempt = {
            "person_id": None,
            "target_id": None,
            "origin": Origin.IMPORTED,
            "status": AttemptStatus.FINISHED,
            "tags": None,
            "raw_transcript": None if rejected_ok else r.rejected,
            "content_hash": r.content_hash,
            "extra": r.extra,
        }
        *earlier, last = r.rejected_turns
        same_context = r.chosen_turns[:-1] == earlier and r.chosen_turns[-1].human == last.human
        chosen_meta = (
            None
            if same_context and is_lossless(r.chosen, r.chosen_turns)
            else {"raw_transcript": r.chosen}
        )
        assert last.assistant is not None and r.chosen_turns[-1].assistant is not None
        turns: list[tuple[str | None, list[tuple[str, bool, dict[str, Any] | None]]]] = [
            (t.human, [] if t.assistant is None else [(t.assistant, True, None)]) for t in earlier
        ]
        turns.append(
            (
                last.human,
                [(last.assistant, True, None), (r.chosen_turns[-1].assistant, False, chosen_meta)],
            )
        )
        rows.append(_Conversation(attempt, turns))
    return rows


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _write(session: Session, conversations: list[_Conversation], progress: Progress | None) -> None:
    """Plain executemany INSERTs, then read the new ids back by unique keys.

    Why not ``INSERT ... RETURNING``: to keep row order SQLAlchemy sends it one row at a
    time on SQLite (150k round trips). ``content_hash`` and ``(attempt_id, index)`` are
    unique, so two indexed SELECTs per batch recover the ids on every database.
    """
    attempts, turns, candidates = (_table(m) for m in (Attempt, Turn, Candidate))
    done = 0
    for batch in _chunks(conversations, 2000):
        session.execute(insert(attempts), [c.attempt for c in batch])
        hashes = [c.attempt["content_hash"] for c in batch]
        attempt_id = {
            h: i
            for chunk in _chunks(hashes)
            for i, h in session.execute(
                select(attempts.c.id, attempts.c.content_hash).where(
                    attempts.c.content_hash.in_(chunk)
                )
            )
        }
        turn_rows = [
            {"attempt_id": attempt_id[c.attempt["content_hash"]], "index": index, "human": human}
            for c in batch
            for index, (human, _) in enumerate(c.turns)
        ]
        session.execute(insert(turns), turn_rows)
        turn_id = {
            (a, index): i
            for chunk in _chunks(list(attempt_id.values()))
            for i, a, index in session.execute(
                select(turns.c.id, turns.c.attempt_id, turns.c.index).where(
                    turns.c.attempt_id.in_(chunk)
                )
            )
        }
        candidate_rows = [
            {
                "turn_id": turn_id[(attempt_id[c.attempt["content_hash"]], index)],
                "index": i,
                "text": text,
                "picked": picked,
                "meta": meta,
            }
            for c in batch
            for index, (_, replies) in enumerate(c.turns)
            for i, (text, picked, meta) in enumerate(replies)
        ]
        if candidate_rows:
            session.execute(insert(candidates), candidate_rows)
        done += len(batch)
        if progress:
            progress(done, len(conversations))


def import_file(
    store: Store,
    path: str | Path,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    source: str = DEFAULT_SOURCE,
) -> ImportReport:
    """Validate a whole file, then write its new records in one transaction.

    ``source`` scopes the file's member ids (see the module docstring). A database
    failure part-way (a server stopped, a lock never released) rolls everything back
    and becomes a :class:`StoreError`.
    """
    path = Path(path)
    check_source(source)
    try:
        result = read_file(path, skip_invalid=skip_invalid)
    except EmptyFileError:
        return ImportReport(str(path), None, dry_run=dry_run, source=source)
    report = ImportReport(
        str(path), result.kind, records=len(result.records), dry_run=dry_run, source=source
    )
    report.invalid = [str(e) for e in result.invalid]

    unique: dict[str, Any] = {}
    for record in result.records:
        unique.setdefault(record.content_hash, record)
    report.duplicates_in_file = report.records - len(unique)
    try:
        _import_records(store, path, result.kind, unique, report, progress)
    except DBAPIError as exc:
        raise StoreError(f"{path}: not imported: {describe_db_error(exc, store.url)}") from exc
    return report


def _import_records(
    store: Store,
    path: Path,
    kind: FileKind,
    unique: dict[str, Any],
    report: ImportReport,
    progress: Progress | None,
) -> None:
    with store.session() as session:  # closing without commit rolls everything back
        if not report.dry_run:
            lock_for_writing(session.connection())
        known = _existing_hashes(session, list(unique))
        fresh = [r for h, r in unique.items() if h not in known]
        report.already_stored = len(unique) - len(fresh)
        report.added = len(fresh)
        if not fresh:
            return
        if kind is FileKind.RED_TEAM:
            red_team: list[RedTeamRecord] = fresh
            targets = _ensure_targets(session, red_team)
            people = _ensure_people(session, red_team, path, report.source)
            conversations = _red_team_rows(red_team, targets, people)
        else:
            conversations = _comparison_rows(fresh)
        if report.dry_run:
            return
        _write(session, conversations, progress)
        session.commit()


__all__ = [
    "DEFAULT_SOURCE",
    "ImportReport",
    "ParsedTurn",
    "check_source",
    "import_file",
    "imported_target_name",
]
