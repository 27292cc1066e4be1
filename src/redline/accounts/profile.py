"""What a red teamer tells us once: consent to the instructions, the optional survey."""

from __future__ import annotations

from redline.accounts.sessions import now
from redline.store import Store
from redline.store.models import Person


def record_consent(store: Store, person_id: int) -> None:
    """The person agreed to the instructions (the first agreement is the one kept)."""
    with store.transaction() as session:
        person = session.get(Person, person_id)
        if person is not None and person.consented_at is None:
            person.consented_at = now()


def record_survey(store: Store, person_id: int, answers: dict[str, str]) -> None:
    with store.transaction() as session:
        person = session.get(Person, person_id)
        if person is not None:
            person.survey = answers
