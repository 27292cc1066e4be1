"""Invites and login links: how people get in.

An invite is per role and pool and may be used ``max_uses`` times, each use making a new
person (one link for a batch of crowdworkers, or a single-use link for one reviewer). A
login link is an invite bound to an existing person (``person_id``), used once: the
first admin gets one when the server starts on an empty store.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from redline.accounts.sessions import now, open_session
from redline.accounts.tokens import new_token, token_hash
from redline.errors import NotFoundError, RedlineError
from redline.store import Store
from redline.store.models import Invite, Person, Role
from redline.store.writes import create_person

LOGIN_LINK_HOURS = 24


class InviteInvalid(RedlineError):
    """A link that lets no one in: unknown, used up, revoked or expired."""

    http_status = 410


@dataclass(frozen=True)
class InviteInfo:
    id: int
    role: Role
    pool: str
    note: str | None
    uses: int
    max_uses: int
    login_for: str | None
    created_at: datetime
    active: bool


def create_invite(
    store: Store,
    role: Role,
    pool: str,
    *,
    max_uses: int = 1,
    note: str | None = None,
    created_by: int | None = None,
    days: int = 14,
) -> str:
    """A new invite; returns the raw token (shown once, never stored)."""
    pool = pool.strip()
    if not pool or len(pool) > 50 or not pool.replace("-", "").replace("_", "").isalnum():
        raise RedlineError("the pool must be 1-50 letters, digits, - or _ (e.g. mturk, staff)")
    if not 1 <= max_uses <= 10_000:
        raise RedlineError("an invite can be used from 1 to 10000 times")
    token = new_token()
    with store.transaction() as session:
        session.add(
            Invite(
                token_hash=token_hash(token),
                role=role,
                pool=pool,
                max_uses=max_uses,
                uses=0,
                note=(note or "").strip()[:200] or None,
                created_by_id=created_by,
                expires_at=now() + timedelta(days=days),
            )
        )
    return token


def login_link_token(store: Store, person_id: int) -> str:
    """A one-time login link for an existing person (expires in 24 hours)."""
    token = new_token()
    with store.transaction() as session:
        person = session.get(Person, person_id)
        if person is None:
            raise NotFoundError(f"person {person_id} does not exist")
        session.add(
            Invite(
                token_hash=token_hash(token),
                role=person.role,
                pool=person.pool,
                person_id=person.id,
                max_uses=1,
                uses=0,
                note="login link",
                expires_at=now() + timedelta(hours=LOGIN_LINK_HOURS),
            )
        )
    return token


def ensure_first_admin(store: Store) -> str | None:
    """On an empty store (no admin yet): create the admin and return a login-link token."""
    with store.transaction() as session:
        admin = session.scalar(select(Person).where(Person.role == Role.ADMIN).limit(1))
        if admin is not None:
            return None
        admin = create_person(session, "admin", Role.ADMIN, "staff")
        admin_id = admin.id
    return login_link_token(store, admin_id)


def first_admin_id(store: Store) -> int | None:
    with store.session() as session:
        return session.scalar(
            select(Person.id).where(Person.role == Role.ADMIN).order_by(Person.id).limit(1)
        )


def describe_invite(store: Store, token: str) -> InviteInfo:
    """What an invite token grants, or InviteInvalid when it cannot be used."""
    with store.session() as session:
        invite = session.scalar(select(Invite).where(Invite.token_hash == token_hash(token)))
        if invite is None:
            raise InviteInvalid("this link is not valid; ask your campaign admin for a new one")
        info = _info(session, invite)
    if not info.active:
        raise InviteInvalid("this link was used up, revoked or has expired; ask for a new one")
    return info


def _info(session: Session, invite: Invite) -> InviteInfo:
    login_for = None
    if invite.person_id is not None:
        person = session.get(Person, invite.person_id)
        login_for = person.handle if person else None
    expires = invite.expires_at
    active = (
        invite.revoked_at is None
        and invite.uses < invite.max_uses
        and (expires is None or expires > now())
    )
    return InviteInfo(
        id=invite.id,
        role=invite.role,
        pool=invite.pool,
        note=invite.note,
        uses=invite.uses,
        max_uses=invite.max_uses,
        login_for=login_for,
        created_at=invite.created_at,
        active=active,
    )


def redeem_invite(store: Store, token: str) -> str:
    """Use an invite: make (or, for a login link, find) the person and open a session.

    Returns the raw session token. The use is counted with a conditional UPDATE so two
    concurrent redemptions of a single-use link cannot both succeed.
    """
    at = now()
    with store.transaction() as session:
        invite = session.scalar(select(Invite).where(Invite.token_hash == token_hash(token)))
        if invite is None:
            raise InviteInvalid("this link is not valid; ask your campaign admin for a new one")
        expires = invite.expires_at
        claimed = session.execute(  # type: ignore[attr-defined]
            update(Invite)
            .where(
                Invite.id == invite.id,
                Invite.uses < Invite.max_uses,
                Invite.revoked_at.is_(None),
            )
            .values(uses=Invite.uses + 1)
        ).rowcount
        if not claimed or (expires is not None and expires <= at):
            raise InviteInvalid("this link was used up, revoked or has expired; ask for a new one")
        if invite.person_id is not None:
            person_id = invite.person_id
        else:
            handle = f"{invite.pool}-{secrets.token_hex(4)}"
            person_id = create_person(session, handle, invite.role, invite.pool).id
        return open_session(session, person_id, at)


def list_invites(store: Store, limit: int = 100) -> list[InviteInfo]:
    with store.session() as session:
        rows = session.scalars(select(Invite).order_by(Invite.id.desc()).limit(limit)).all()
        return [_info(session, row) for row in rows]


def revoke_invite(store: Store, invite_id: int) -> None:
    with store.transaction() as session:
        invite = session.get(Invite, invite_id)
        if invite is None:
            raise NotFoundError(f"invite {invite_id} does not exist")
        if invite.revoked_at is None:
            invite.revoked_at = now()
