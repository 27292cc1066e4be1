"""SQLAlchemy 2 models: the data model of DESIGN.md section 3.

Conventions that matter for the rest of the system:
- Scores are floats stored as double precision, so imported scores export bit-exact.
- Every score column sits next to the identity of what made it (``scored_by``: a PM hash,
  or ``"hh-rlhf"`` for published scores), so results of different judges never mix.
- ``content_hash`` makes imports idempotent: the same record imported twice is one row.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# None is stored as SQL NULL, not the JSON text 'null': cheaper on bulk writes, same reads.
NullableJSON = JSON(none_as_null=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: NullableJSON,
        list[str]: NullableJSON,
        int: Integer,
    }


class Role(enum.StrEnum):
    REDTEAMER = "redteamer"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Origin(enum.StrEnum):
    HUMAN = "human"
    REPLAY = "replay"
    AUTOMATED = "automated"
    IMPORTED = "imported"


class AttemptStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    ABANDONED = "abandoned"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native PG enum): adding a value needs no DDL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
    )


class Timestamp(TypeDecorator[datetime]):
    """A moment in UTC, read back time-zone aware on every database.

    Why: PostgreSQL returns aware datetimes, SQLite naive ones; comparing the two raises.
    Every column of a moment uses this type, so no caller converts (stored values are
    UTC: Redline writes ``utcnow()`` and converts aware values on the way in).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Person(Base):
    """A red teamer, reviewer or admin.

    ``member_number`` is Redline's own public integer id, unique in the store and given
    to everyone (platform users and imported people alike). People who came from a file
    also keep the id they had there: ``source`` names the dataset (``"hh-rlhf"`` for the
    published data) and ``source_member_id`` is its ``red_team_member_id``. The pair is
    the imported person's key, so an imported id never meets a platform number: the two
    live in different columns, and exports give imported people their original id back.
    """

    __tablename__ = "person"
    # A unique index, not a constraint: SQLite adds an index without rebuilding the table.
    __table_args__ = (Index("uq_person_source_id", "source", "source_member_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_number: Mapped[int] = mapped_column(BigInteger, unique=True)
    source: Mapped[str | None] = mapped_column(String(100))
    source_member_id: Mapped[int | None] = mapped_column(BigInteger)
    handle: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.REDTEAMER)
    pool: Mapped[str] = mapped_column(String(50), default="staff")
    token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    survey: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    # When the person agreed to the red-team instructions (warning, risk tolerance).
    consented_at: Mapped[datetime | None] = mapped_column(Timestamp)

    attempts: Mapped[list[Attempt]] = relationship(back_populates="person")


class Target(Base):
    """A model behind a defence, named ``family-size/defence`` (e.g. ``smollm2-135m/rs16``)."""

    __tablename__ = "target"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    family: Mapped[str] = mapped_column(String(100))
    num_params: Mapped[int] = mapped_column(BigInteger)
    size_label: Mapped[str] = mapped_column(String(20))
    model_type: Mapped[str] = mapped_column(String(50))
    config: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)

    attempts: Mapped[list[Attempt]] = relationship(back_populates="target")


class Task(Base):
    """A batch of attempts by one red teamer; active time is recorded to pay by time."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    size: Mapped[int] = mapped_column(default=5)
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    active_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Last interaction: gaps up to a cap between interactions count as active time.
    last_active_at: Mapped[datetime | None] = mapped_column(Timestamp)

    attempts: Mapped[list[Attempt]] = relationship(back_populates="task")


class Attempt(Base):
    """One conversation. Person and target are unknown for some imports (comparison pairs)."""

    __tablename__ = "attempt"
    # A re-submitted "start attempt" form (double click, retry) finds the first row.
    __table_args__ = (
        UniqueConstraint("task_id", "idempotency_key", name="uq_attempt_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("target.id"), index=True)
    origin: Mapped[Origin] = mapped_column(_enum(Origin, "origin"), index=True)
    source_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id"))
    task_description: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float)
    harmfulness: Mapped[int | None] = mapped_column()
    actionability: Mapped[int | None] = mapped_column()
    status: Mapped[AttemptStatus] = mapped_column(
        _enum(AttemptStatus, "attempt_status"), default=AttemptStatus.IN_PROGRESS
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    min_harmlessness: Mapped[float | None] = mapped_column(Float)
    mean_harmlessness: Mapped[float | None] = mapped_column(Float)
    task_description_harmlessness: Mapped[float | None] = mapped_column(Float)
    scored_by: Mapped[str | None] = mapped_column(String(80))
    tags: Mapped[list[str] | None] = mapped_column(NullableJSON)
    # Kept only when the turns cannot rebuild the imported transcript byte for byte.
    raw_transcript: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # Fields of an imported record that Redline does not model, written back on export
    # so an import never loses what the file held.
    extra: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)

    task: Mapped[Task | None] = relationship(back_populates="attempts")
    person: Mapped[Person | None] = relationship(back_populates="attempts")
    target: Mapped[Target | None] = relationship(back_populates="attempts")
    turns: Mapped[list[Turn]] = relationship(
        back_populates="attempt", order_by="Turn.index", cascade="all, delete-orphan"
    )


class Turn(Base):
    """A human message and the candidate replies it got. ``human`` is None only for
    imported transcripts where two assistant messages follow each other."""

    __tablename__ = "turn"
    __table_args__ = (
        UniqueConstraint("attempt_id", "index"),
        # A re-submitted message (double click, retry) finds the first turn, never a twin.
        UniqueConstraint("attempt_id", "idempotency_key", name="uq_turn_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column()
    human: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))

    attempt: Mapped[Attempt] = relationship(back_populates="turns")
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="turn", order_by="Candidate.index", cascade="all, delete-orphan"
    )


class Candidate(Base):
    """One reply to a turn. ``picked`` marks the more harmful one, which continues the chat."""

    __tablename__ = "candidate"
    __table_args__ = (UniqueConstraint("turn_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turn.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(Text)
    picked: Mapped[bool] = mapped_column(Boolean, default=False)
    harmlessness: Mapped[float | None] = mapped_column(Float)
    scored_by: Mapped[str | None] = mapped_column(String(80))
    latency_s: Mapped[float | None] = mapped_column(Float)
    meta: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)

    turn: Mapped[Turn] = relationship(back_populates="candidates")


class Review(Base):
    """An independent review of an attempt. A skip after the preview is a row too."""

    __tablename__ = "review"
    __table_args__ = (UniqueConstraint("attempt_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[int | None] = mapped_column()
    tags: Mapped[list[str] | None] = mapped_column(NullableJSON)
    note: Mapped[str | None] = mapped_column(Text)


class WellbeingSurvey(Base):
    """Optional survey after every 10 reviews: 10 feelings rated 0-4 and a comment."""

    __tablename__ = "wellbeing_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    feelings: Mapped[dict[str, Any]] = mapped_column(NullableJSON)
    comment: Mapped[str | None] = mapped_column(Text)


class PreferenceModel(Base):
    """A trained harmlessness preference model: its file, metrics and training-data hash."""

    __tablename__ = "preference_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    data_hash: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Invite(Base):
    """A link that lets people in: per role and pool, or (``person_id`` set) a one-time
    login link for an existing person, such as the first admin. Only the hash of the
    token is stored, so a database leak does not leak working links."""

    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    pool: Mapped[str] = mapped_column(String(50), default="staff")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    note: Mapped[str | None] = mapped_column(String(200))
    max_uses: Mapped[int] = mapped_column(default=1)
    uses: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WebSession(Base):
    """A signed-in browser. The cookie holds the token; the store holds its hash."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)

    person: Mapped[Person] = relationship()
