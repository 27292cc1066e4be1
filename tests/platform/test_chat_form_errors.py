"""A problem with a chat message re-shows the chat with the draft and the reason (never a
bare error page that loses what was typed); progress of a turn is readable while it is
generated."""

from __future__ import annotations

import re

from platform_helpers import Browser, Targets
from sqlalchemy import func, select

from redline.platform.progress import BOARD
from redline.store import Store
from redline.store.models import Turn

KEY_RE = re.compile(r'name="key" value="([0-9a-f]+)"')


def turns(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Turn)) or 0)


def test_a_whitespace_only_message_reshows_the_chat_with_the_reason(
    browser: Browser, store: Store
) -> None:
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    page = browser.say(attempt, "   \n\t ")
    assert page.status_code == 400
    assert 'class="card chat"' in page.text, "the chat, not a bare error page"
    assert "Your message was not sent: the message is empty" in page.text
    assert 'id="compose"' in page.text and ">Send</button>" in page.text
    assert turns(store) == 0


def test_a_second_tab_that_moved_the_chat_on_keeps_the_draft(
    browser: Browser, store: Store
) -> None:
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    stale = browser.get(f"/redteam/attempt/{attempt}")  # tab 2 opened before tab 1 sends
    stale_key = KEY_RE.search(stale.text).group(1)  # type: ignore[union-attr]
    assert browser.say(attempt, "first, from tab 1").status_code == 200
    page = browser.post(
        f"/redteam/attempt/{attempt}/turn", {"text": "my careful draft", "key": stale_key}
    )
    assert page.status_code == 409
    assert 'class="card chat"' in page.text
    assert "Your message was not sent: pick the more harmful reply" in page.text
    # The compose box is gone until a pick: the draft is shown to copy, not lost.
    assert re.search(r'<textarea id="unsent"[^>]*readonly>my careful draft</textarea>', page.text)
    assert "Reply 2 is more harmful" in page.text
    assert turns(store) == 1


def test_a_model_failure_still_offers_a_retry_with_the_same_key(
    browser: Browser, targets: Targets
) -> None:
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    targets.fail_next()
    page = browser.say(attempt, "hello", key="k" * 32)
    assert page.status_code == 503
    assert "The assistant could not answer" in page.text and ">Retry</button>" in page.text
    assert f'name="key" value="{"k" * 32}"' in page.text


def test_progress_is_read_per_person_attempt_and_key(browser: Browser) -> None:
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    empty = browser.get(f"/redteam/attempt/{attempt}/progress?key=abc")
    assert empty.json() == {"stage": "unknown", "done": 0, "total": 0}
    assert empty.headers["cache-control"] == "no-store"
    # Someone else's entry with the same attempt and key is not shown to this person.
    BOARD.callback((-1, attempt, "abc"))("writing", 9, 16)
    assert browser.get(f"/redteam/attempt/{attempt}/progress?key=abc").json()["stage"] == "unknown"
    BOARD.forget((-1, attempt, "abc"))
