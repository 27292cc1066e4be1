"""Browser sessions as every request reads them: who is signed in, until when, and the
last-seen time written only every few minutes (issue 17 made this one narrow query)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from redline import accounts
from redline.store import Role, Store
from redline.store.models import WebSession


@pytest.fixture
def signed_in(store: Store) -> str:
    return accounts.redeem_invite(store, accounts.create_invite(store, Role.REVIEWER, "pool-a"))


def _shift(store: Store, **ago: timedelta) -> None:
    """Move the one session's timestamps into the past."""
    with store.transaction() as session:
        web = session.scalars(select(WebSession)).one()
        for column, delta in ago.items():
            setattr(web, column, getattr(web, column) - delta)


def _last_seen(store: Store) -> object:
    with store.session() as session:
        return session.scalars(select(WebSession.last_seen_at)).one()


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_session_names_its_person_and_what_they_have_done(store: Store, signed_in: str) -> None:
    who = accounts.viewer_for(store, signed_in)
    assert who is not None
    assert (who.role, who.pool, who.consented, who.survey_done) == (
        Role.REVIEWER,
        "pool-a",
        False,
        False,
    )
    accounts.record_consent(store, who.person_id)
    again = accounts.viewer_for(store, signed_in)
    assert again is not None and again.consented and not again.survey_done
    accounts.record_survey(store, who.person_id, {"age": "25-34"})
    done = accounts.viewer_for(store, signed_in)
    assert done is not None and done.survey_done
    assert accounts.viewer_for(store, "not-a-token") is None


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_old_and_ended_sessions_name_nobody(store: Store, signed_in: str) -> None:
    _shift(store, created_at=timedelta(days=accounts.SESSION_DAYS, minutes=1))
    assert accounts.viewer_for(store, signed_in) is None
    fresh = accounts.redeem_invite(store, accounts.create_invite(store, Role.ADMIN, "staff"))
    who = accounts.viewer_for(store, fresh)
    assert who is not None
    accounts.end_session(store, who.session_hash)
    assert accounts.viewer_for(store, fresh) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_last_seen_is_written_only_every_few_minutes(store: Store, signed_in: str) -> None:
    first = _last_seen(store)
    accounts.viewer_for(store, signed_in)
    assert _last_seen(store) == first  # a read within the 5 minutes writes nothing
    _shift(store, last_seen_at=timedelta(minutes=6))
    moved_back = _last_seen(store)
    accounts.viewer_for(store, signed_in)
    assert _last_seen(store) > moved_back
