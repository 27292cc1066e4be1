"""Issue 14: the web forms follow the store's text rule (no NUL), on SQLite and PostgreSQL.

PostgreSQL cannot store U+0000; SQLite could. One rule for both: every form carrying one
is refused with a 400 page naming the field, before any route writes.
"""

from __future__ import annotations

import html

from platform_helpers import Browser
from sqlalchemy import func, select

from redline.store import Store
from redline.store.models import Attempt, Review, Turn


def count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_nul_in_a_message_or_description_is_refused(browser: Browser, store: Store) -> None:
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt("a fine description")
    refused = browser.say(attempt, "hello\x00there")
    assert refused.status_code == 400
    page_text = html.unescape(refused.text)
    assert "the form field 'text'" in page_text and "NUL character" in page_text
    assert count(store, Turn) == 0

    assert browser.say(attempt, "hello there").status_code == 200  # the same form, fixed
    assert count(store, Turn) == 1

    page = browser.get("/redteam/attempt/new")
    before = count(store, Attempt)
    bad = browser.post(
        "/redteam/attempt", {"task_id": "1", "task_description": "a\x00", "key": "k"}
    )
    assert bad.status_code == 400 and "task_description" in bad.text, page.status_code
    assert count(store, Attempt) == before


def test_nul_in_a_review_note_is_refused(browser: Browser, store: Store) -> None:
    browser.join()
    response = browser.post("/review/1", {"rating": "2", "note": "\x00"})
    assert response.status_code == 400 and "NUL character" in response.text
    assert count(store, Review) == 0
