"""Browser sessions: who is signed in, opened by an invite and ended by logging out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from redline.accounts.tokens import new_token, token_hash
from redline.store import Store
from redline.store.models import Person, Role, WebSession

SESSION_DAYS = 30
# last_seen_at is refreshed at most this often, so reading pages does not write.
_SEEN_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the signed-in person, as the routes need them."""

    person_id: int
    handle: str
    role: Role
    pool: str
    session_hash: str
    consented: bool
    survey_done: bool


def now() -> datetime:
    return datetime.now(UTC)


def open_session(session: Session, person_id: int, at: datetime) -> str:
    """A new browser session for a person (in the caller's transaction); returns the raw
    token for the cookie."""
    token = new_token()
    session.add(
        WebSession(
            token_hash=token_hash(token), person_id=person_id, created_at=at, last_seen_at=at
        )
    )
    return token


def viewer_for(store: Store, session_token: str) -> Viewer | None:
    """The person behind a session token, or None for an unknown, ended or old session.

    Every request asks this, so it reads only the columns it needs in one query (no ORM
    objects, not the person's survey answers) and writes only every few minutes.
    """
    digest = token_hash(session_token)
    at = now()
    with store.session() as session:
        row = session.execute(
            select(
                Person.id,
                Person.handle,
                Person.role,
                Person.pool,
                Person.consented_at.is_not(None).label("consented"),
                Person.survey.is_not(None).label("survey_done"),
                WebSession.created_at,
                WebSession.last_seen_at,
            )
            .join(Person, Person.id == WebSession.person_id)
            .where(WebSession.token_hash == digest, WebSession.ended_at.is_(None))
        ).first()
        if row is None or row.created_at + timedelta(days=SESSION_DAYS) < at:
            return None
        if at - row.last_seen_at > _SEEN_EVERY:
            session.execute(
                update(WebSession).where(WebSession.token_hash == digest).values(last_seen_at=at)
            )
            session.commit()
    return Viewer(
        person_id=row.id,
        handle=row.handle,
        role=row.role,
        pool=row.pool,
        session_hash=digest,
        consented=bool(row.consented),
        survey_done=bool(row.survey_done),
    )


def end_session(store: Store, session_hash: str) -> None:
    with store.transaction() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.token_hash == session_hash, WebSession.ended_at.is_(None))
            .values(ended_at=now())
        )
