"""The one way rows for people, targets and conversations enter the store.

Why one module: the campaign (people at the platform), attacks (replays, automated
attackers) and imports (hh-rlhf files) all write the same rows. Each rule lives here
once: how a person gets a member number, how a target row is found or made, how a
conversation (attempt, turns, candidates) is laid out. Every function works inside the
caller's transaction, so what the caller writes together commits or rolls back together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from redline.errors import StoreError
from redline.store.models import Attempt, Candidate, Person, Role, Target, Turn, utcnow

IMPORTED_HANDLE = "{source}:{member}"
_CHUNK = 500  # rows per IN (...) lookup: below every database's parameter limit
_BATCH = 2000  # conversations per bulk INSERT round

Progress = Callable[[int, int], None]  # (conversations written so far, conversations)
_Item = TypeVar("_Item")


def savepoint(session: Session) -> SessionTransaction:
    """A SAVEPOINT inside the caller's transaction (``with savepoint(session): ...``).

    Why not ``session.begin_nested()`` alone: Python's sqlite3 opens a transaction only
    before a data-changing statement, so a SAVEPOINT issued first opens one of its own and
    its RELEASE commits it. A dry-run import, which commits nothing, then wrote a target
    row. On SQLite the transaction is begun first, so the savepoint nests and a rollback
    still undoes everything.
    """
    conn = session.connection()
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite" and raw is not None and not raw.in_transaction:
        conn.exec_driver_sql("BEGIN")
    return session.begin_nested()


def chunks(items: Sequence[_Item], size: int = _CHUNK) -> Iterable[Sequence[_Item]]:
    """``items`` in slices of ``size``, for lookups that must stay under parameter limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- people ------------------------------------------------------------------------------


def next_member_number(session: Session) -> int:
    """The next of Redline's own member numbers: after the largest positive one.

    Automated attackers have negative numbers (see :func:`get_or_create_person`), so
    they never move the numbering of people.
    """
    largest = session.scalar(select(func.max(Person.member_number))) or 0
    return max(largest, 0) + 1


def create_person(session: Session, handle: str, role: Role, pool: str) -> Person:
    """Add a person with the next free member number.

    Member numbers are Redline's own: they continue after the largest one in the store.
    Imported people have one too, but their file's id lives apart, in
    ``(source, source_member_id)`` (see :class:`~redline.store.models.Person`), so a
    platform user can never take an imported person's key, whatever order they come in.
    A concurrent writer taking the same number makes the insert retry with the next one.
    """
    for _ in range(20):
        person = Person(
            member_number=next_member_number(session), handle=handle, role=role, pool=pool
        )
        try:
            with savepoint(session):
                session.add(person)
                session.flush()
        except IntegrityError:
            if _person_by_handle(session, handle) is not None:
                raise
            continue
        return person
    raise RuntimeError("could not allocate a member number after 20 tries")


def get_or_create_person(
    session: Session, handle: str, role: Role, pool: str, *, member_number: int | None = None
) -> Person:
    """The person with this handle, created on first use.

    ``member_number`` fixes the number of a new person instead of taking the next one:
    an automated attacker's number is derived from its name, so it is the same in every
    database. A concurrent writer creating the same person first wins; its row is
    returned.
    """
    person = _person_by_handle(session, handle)
    if person is not None:
        return person
    if member_number is None:
        return create_person(session, handle, role, pool)
    person = Person(member_number=member_number, handle=handle, role=role, pool=pool)
    try:
        with savepoint(session):
            session.add(person)
            session.flush()
    except IntegrityError:
        return session.scalars(select(Person).where(Person.handle == handle)).one()
    return person


def _person_by_handle(session: Session, handle: str) -> Person | None:
    return session.scalar(select(Person).where(Person.handle == handle))


def imported_people(session: Session, source: str, members: Iterable[int]) -> dict[int, Person]:
    """The stored people of an import ``source``, by their id in that source."""
    return {
        person.source_member_id: person
        for chunk in chunks(sorted(set(members)))
        for person in session.scalars(
            select(Person).where(Person.source == source, Person.source_member_id.in_(chunk))
        )
        if person.source_member_id is not None
    }


def add_imported_people(
    session: Session, source: str, pools: Mapping[int, str]
) -> dict[int, Person]:
    """New people for an import ``source``: member id -> pool, numbered in that order.

    Their handle is ``source:member``; one already taken by someone else is an error
    (the caller's import must then use another source name). The caller holds the
    store's write lock, so numbers are taken without retries.
    """
    number = next_member_number(session)
    created: dict[int, Person] = {}
    for member, pool in pools.items():
        handle = IMPORTED_HANDLE.format(source=source, member=member)
        if session.scalar(select(Person.id).where(Person.handle == handle)) is not None:
            raise StoreError(
                f"the handle {handle!r} for {source} member {member} already belongs to "
                "another person; import with another --source name"
            )
        created[member] = Person(
            member_number=number,
            source=source,
            source_member_id=member,
            handle=handle,
            role=Role.REDTEAMER,
            pool=pool,
        )
        number += 1
        session.add(created[member])
    session.flush()
    return created


# -- targets -----------------------------------------------------------------------------


class TargetIdentity(Protocol):
    """What the store needs to know of a built target (``targets.base.TargetInfo``)."""

    @property
    def name(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def size_label(self) -> str: ...
    @property
    def num_params(self) -> int: ...
    @property
    def model_type(self) -> str: ...
    @property
    def defence(self) -> str: ...
    @property
    def config(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TargetRow:
    """A target row's columns; ``name`` is its key."""

    name: str
    family: str
    num_params: int
    size_label: str
    model_type: str
    config: dict[str, Any]

    @classmethod
    def of(cls, info: TargetIdentity) -> TargetRow:
        """The row of a target the campaign or an attack talks to (its defence kept)."""
        return cls(
            name=info.name,
            family=info.family,
            num_params=info.num_params,
            size_label=info.size_label,
            model_type=info.model_type,
            config={"defence": info.defence, **info.config},
        )


def ensure_target(session: Session, row: TargetRow) -> Target:
    """The Target row named ``row.name``, created on first use.

    A stored row wins over ``row`` (a target's identity never changes after its first
    attempt); a concurrent writer creating the same target first wins too. The row has
    its id on return.
    """
    found = session.scalar(select(Target).where(Target.name == row.name))
    if found is not None:
        return found
    target = Target(
        name=row.name,
        family=row.family,
        num_params=row.num_params,
        size_label=row.size_label,
        model_type=row.model_type,
        config=row.config,
    )
    try:
        with savepoint(session):
            session.add(target)
            session.flush()
    except IntegrityError:
        target = session.scalars(select(Target).where(Target.name == row.name)).one()
    return target


# -- conversations -----------------------------------------------------------------------


@dataclass
class CandidateRow:
    """One reply to a turn; ``picked`` marks the one that continued the conversation."""

    text: str
    picked: bool = False
    harmlessness: float | None = None
    scored_by: str | None = None
    latency_s: float | None = None
    meta: dict[str, Any] | None = None


@dataclass
class TurnRow:
    """A human message (None between two assistant messages) and its replies."""

    human: str | None
    candidates: list[CandidateRow] = field(default_factory=list)
    idempotency_key: str | None = None
    created_at: datetime | None = None  # None: when it is written


@dataclass
class Conversation:
    """An attempt's columns (``content_hash`` required: it keys the bulk write) and turns."""

    attempt: dict[str, Any]
    turns: list[TurnRow]


def start_conversation(session: Session, attempt: Mapping[str, Any]) -> Attempt:
    """An attempt with no turns yet (the platform's: its turns come one at a time through
    :func:`add_turn`), flushed so a re-submitted start fails here on its unique key."""
    row = Attempt(**attempt)
    session.add(row)
    session.flush()
    return row


def add_turn(session: Session, attempt_id: int, index: int, row: TurnRow) -> Turn:
    """Write one turn and its candidates (the platform, a turn at a time) and flush, so a
    re-submitted turn fails here on its unique key."""
    turn = Turn(
        attempt_id=attempt_id,
        index=index,
        human=row.human,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at or utcnow(),
    )
    turn.candidates = [Candidate(**_candidate_columns(i, c)) for i, c in enumerate(row.candidates)]
    session.add(turn)
    session.flush()
    return turn


def _candidate_columns(index: int, row: CandidateRow) -> dict[str, Any]:
    return {
        "index": index,
        "text": row.text,
        "picked": row.picked,
        "harmlessness": row.harmlessness,
        "scored_by": row.scored_by,
        "latency_s": row.latency_s,
        "meta": row.meta,
    }


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def add_conversations(
    session: Session, conversations: Sequence[Conversation], progress: Progress | None = None
) -> None:
    """Write whole conversations (imports, attacks) with plain executemany INSERTs, then
    read the new ids back by unique keys.

    Why not the ORM or ``INSERT ... RETURNING``: the published file has 38,961 attempts
    and ~150k messages; to keep row order SQLAlchemy sends RETURNING one row at a time on
    SQLite (150k round trips). ``content_hash`` and ``(attempt_id, index)`` are unique,
    so two indexed SELECTs per batch recover the ids on every database. A key already
    stored raises :class:`IntegrityError` and the caller's transaction writes nothing.
    """
    attempts, turns, candidates = (_table(m) for m in (Attempt, Turn, Candidate))
    done = 0
    for batch in chunks(conversations, _BATCH):
        session.execute(insert(attempts), [c.attempt for c in batch])
        attempt_id = {
            key: row_id
            for chunk in chunks([c.attempt["content_hash"] for c in batch])
            for row_id, key in session.execute(
                select(attempts.c.id, attempts.c.content_hash).where(
                    attempts.c.content_hash.in_(chunk)
                )
            )
        }
        turn_rows = [
            {
                "attempt_id": attempt_id[c.attempt["content_hash"]],
                "index": index,
                "human": turn.human,
                "idempotency_key": turn.idempotency_key,
                "created_at": turn.created_at or utcnow(),
            }
            for c in batch
            for index, turn in enumerate(c.turns)
        ]
        if turn_rows:
            session.execute(insert(turns), turn_rows)
        turn_id = {
            (owner, index): row_id
            for chunk in chunks(list(attempt_id.values()))
            for row_id, owner, index in session.execute(
                select(turns.c.id, turns.c.attempt_id, turns.c.index).where(
                    turns.c.attempt_id.in_(chunk)
                )
            )
        }
        candidate_rows = [
            {
                "turn_id": turn_id[(attempt_id[c.attempt["content_hash"]], index)],
                **_candidate_columns(i, candidate),
            }
            for c in batch
            for index, turn in enumerate(c.turns)
            for i, candidate in enumerate(turn.candidates)
        ]
        if candidate_rows:
            session.execute(insert(candidates), candidate_rows)
        done += len(batch)
        if progress:
            progress(done, len(conversations))


def stored_hashes(session: Session, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` are stored already as an attempt's ``content_hash``."""
    wanted = list(dict.fromkeys(hashes))
    found: set[str] = set()
    for chunk in chunks(wanted):
        found.update(
            key
            for key in session.scalars(
                select(Attempt.content_hash).where(Attempt.content_hash.in_(chunk))
            )
            if key is not None
        )
    return found
