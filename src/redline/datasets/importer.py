"""Import hh-rlhf files into the store, all-or-nothing and idempotent.

The rows go through the store's write layer (:mod:`redline.store.writes`), in bulk: the
published file has 38,961 attempts and ~150k messages, which ORM flushes would take
minutes to write. One transaction per file: a bad record found while writing leaves
nothing behind.

Who wrote an attempt: a file's ``red_team_member_id`` is kept as the person's
``source_member_id`` under the import's ``source`` (``"hh-rlhf"`` unless told), never as
the platform's ``member_number``, so imported and platform people cannot share a key.

Imports hold the store's write lock (:func:`redline.store.engine.lock_for_writing`) from
their first read to their commit: a second import of the same file waits, then finds
every record already stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from redline.store import AttemptStatus, Origin
from redline.store.engine import Store, describe_db_error, lock_for_writing
from redline.store.writes import (
    CandidateRow,
    Conversation,
    Progress,
    TargetRow,
    TurnRow,
    add_conversations,
    add_imported_people,
    ensure_target,
    imported_people,
    stored_hashes,
)
from redline.vocabulary import DEFENCE_OF_MODEL_TYPE

PUBLISHED_SCORER = "hh-rlhf"
DEFAULT_SOURCE = "hh-rlhf"  # the published dataset: its member ids are one number space
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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


def _ensure_targets(session: Session, records: list[RedTeamRecord]) -> dict[tuple[str, str], int]:
    wanted = {(r.model_type, r.num_params) for r in records}
    ids: dict[tuple[str, str], int] = {}
    for model_type, size in sorted(wanted):
        row = TargetRow(
            name=imported_target_name(model_type, size),
            family="hh-rlhf",
            num_params=parse_size(size),
            size_label=size,
            model_type=model_type,
            config={"source": "imported hh-rlhf red-team attempts"},
        )
        ids[(model_type, size)] = ensure_target(session, row).id
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
    existing = imported_people(session, source, pools)
    for member, (pool, where) in pools.items():
        person = existing.get(member)
        if person is not None and person.pool != pool:
            raise DataFormatError(
                f"{source} member {member} is already stored with pool {person.pool!r}, "
                f"this file says {pool!r}; if the file is from another dataset, import it "
                "with its own --source name",
                path=str(path),
                record=where,
                field="is_upworker",
            )
    new = {member: pool for member, (pool, _) in pools.items() if member not in existing}
    existing.update(add_imported_people(session, source, new))
    return {member: existing[member].id for member in pools}


def _turn(turn: ParsedTurn) -> TurnRow:
    replies = [] if turn.assistant is None else [CandidateRow(turn.assistant, picked=True)]
    return TurnRow(turn.human, replies)


def _red_team_rows(
    records: list[RedTeamRecord], targets: dict[tuple[str, str], int], people: dict[int, int]
) -> list[Conversation]:
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
        rows.append(Conversation(attempt, [_turn(t) for t in r.turns]))
    return rows


def _comparison_rows(records: list[ComparisonRecord]) -> list[Conversation]:
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
        replies = [
            CandidateRow(last.assistant, picked=True),
            CandidateRow(r.chosen_turns[-1].assistant, meta=chosen_meta),
        ]
        turns = [_turn(t) for t in earlier] + [TurnRow(last.human, replies)]
        rows.append(Conversation(attempt, turns))
    return rows


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
        known = stored_hashes(session, unique)
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
        add_conversations(session, conversations, progress)
        session.commit()


__all__ = [
    "DEFAULT_SOURCE",
    "ImportReport",
    "ParsedTurn",
    "check_source",
    "import_file",
    "imported_target_name",
]
