"""Import hh-rlhf files into the store, all-or-nothing and idempotent.

Why bulk Core inserts: the published file has 38,961 attempts and ~150k messages; ORM
unit-of-work flushes would take minutes, ``INSERT ... RETURNING`` batches take seconds.
One transaction per file: a bad record found while writing leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from redline.datasets.hhrlhf import (
    ComparisonRecord,
    FileKind,
    RedTeamRecord,
    parse_size,
    read_file,
)
from redline.datasets.transcripts import ParsedTurn, is_lossless
from redline.errors import DataFormatError
from redline.store import Attempt, AttemptStatus, Candidate, Origin, Person, Role, Target, Turn
from redline.store.engine import Store

PUBLISHED_SCORER = "hh-rlhf"
IMPORTED_HANDLE = "hh-rlhf:{}"
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
    kind: FileKind
    records: int = 0
    added: int = 0
    duplicates: int = 0
    invalid: list[str] = field(default_factory=list)
    dry_run: bool = False


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


def _ensure_people(session: Session, records: list[RedTeamRecord], path: Path) -> dict[int, int]:
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
    ids: dict[int, int] = {}
    existing = {
        p.member_number: p
        for chunk in _chunks(sorted(pools))
        for p in session.scalars(select(Person).where(Person.member_number.in_(chunk)))
    }
    for member, (pool, where) in pools.items():
        person = existing.get(member)
        if person is None:
            person = Person(
                member_number=member,
                handle=IMPORTED_HANDLE.format(member),
                role=Role.REDTEAMER,
                pool=pool,
            )
            session.add(person)
        elif person.pool != pool:
            raise DataFormatError(
                f"red team member {member} is already stored with pool {person.pool!r}, "
                f"this file says {pool!r}",
                path=str(path),
                record=where,
                field="is_upworker",
            )
    session.flush()
    for member in pools:
        person = existing.get(member) or session.scalar(
            select(Person).where(Person.member_number == member)
        )
        assert person is not None
        ids[member] = person.id
    return ids


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
) -> ImportReport:
    """Validate a whole file, then write its new records in one transaction."""
    path = Path(path)
    result = read_file(path, skip_invalid=skip_invalid)
    report = ImportReport(str(path), result.kind, records=len(result.records), dry_run=dry_run)
    report.invalid = [str(e) for e in result.invalid]

    unique: dict[str, Any] = {}
    for record in result.records:
        unique.setdefault(record.content_hash, record)
    with store.session() as session:  # closing without commit rolls everything back
        known = _existing_hashes(session, list(unique))
        fresh = [r for h, r in unique.items() if h not in known]
        report.duplicates = report.records - len(fresh)
        report.added = len(fresh)
        if not fresh:
            return report
        if result.kind is FileKind.RED_TEAM:
            red_team: list[RedTeamRecord] = fresh
            targets = _ensure_targets(session, red_team)
            people = _ensure_people(session, red_team, path)
            conversations = _red_team_rows(red_team, targets, people)
        else:
            conversations = _comparison_rows(fresh)
        if dry_run:
            return report
        _write(session, conversations, progress)
        session.commit()
    return report


__all__ = ["ImportReport", "ParsedTurn", "import_file", "imported_target_name"]
