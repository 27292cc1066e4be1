"""Creating people: the public member number and the handle must both stay unique."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redline.store.models import Person, Role


def create_person(session: Session, handle: str, role: Role, pool: str) -> Person:
    """Add a person with the next free member number (inside the caller's transaction).

    Member numbers are Redline's own: they continue after the largest one in the store.
    Imported people have one too, but their file's id lives apart, in
    ``(source, source_member_id)`` (see :class:`~redline.store.models.Person`), so a
    platform user can never take an imported person's key, whatever order they come in.
    A concurrent writer taking the same number makes the insert retry with the next one.
    """
    for _ in range(20):
        number = (session.scalar(select(func.max(Person.member_number))) or 0) + 1
        person = Person(member_number=number, handle=handle, role=role, pool=pool)
        try:
            with session.begin_nested():
                session.add(person)
                session.flush()
        except IntegrityError:
            if session.scalar(select(Person).where(Person.handle == handle)) is not None:
                raise
            continue
        return person
    raise RuntimeError("could not allocate a member number after 20 tries")


def get_or_create_person(session: Session, handle: str, role: Role, pool: str) -> Person:
    """The person with this handle, created on first use (the local CLI red teamer)."""
    person = session.scalar(select(Person).where(Person.handle == handle))
    if person is None:
        person = create_person(session, handle, role, pool)
    return person
