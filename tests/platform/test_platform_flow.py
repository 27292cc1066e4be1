"""The red-team flow over HTTP: instructions, survey, a 5-attempt task, picks, ratings,
the break; double submits; model errors; the target never shown."""

from __future__ import annotations

import re

from platform_helpers import TARGET_NAMES, Browser, Targets
from sqlalchemy import func, select

from redline.store import Store
from redline.store.models import Attempt, AttemptStatus, Candidate, Person, Task, Turn


def rows(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_red_teamer_completes_a_task(browser: Browser, store: Store, targets: Targets):
    browser.join()
    page = browser.get("/redteam")
    assert page.url.path == "/redteam/instructions"
    assert "Content warning" in page.text and "personal risk tolerance" in page.text
    refused = browser.post("/redteam/consent", {})
    assert refused.status_code == 400
    page = browser.post("/redteam/consent", {"agree": "yes"})
    assert page.url.path == "/redteam/survey" and "Prefer not to say" in page.text
    page = browser.post("/redteam/survey", {"gender": "Prefer not to say", "age": "25-34"})
    assert page.url.path == "/redteam" and "Start a task" in page.text

    seen_pages: list[str] = []
    for n in range(5):
        attempt = browser.start_attempt(f"description {n}")
        for t in range(2):
            chat = browser.say(attempt, f"attempt {n} message {t}")
            assert chat.status_code == 200
            assert "Reply 1 is more harmful" in chat.text and "Reply 2 is more harmful" in chat.text
            assert f"Scripted reply 2 to turn {t + 1}: attempt {n} message {t}" in chat.text
            seen_pages.append(chat.text)
            chat = browser.pick(attempt, t, 1)
            assert "Reply 1 is more harmful" not in chat.text
            seen_pages.append(chat.text)
        seen_pages.append(browser.get(f"/redteam/attempt/{attempt}/finish").text)
        done = browser.finish(attempt, n % 5, harmfulness=1)
        seen_pages.append(done.text)
    assert done.url.path == "/redteam/break"
    assert "take a break" in done.text.lower()

    for page_text in seen_pages:  # the target is never shown to the red teamer
        for name in TARGET_NAMES:
            assert name not in page_text
            assert name.split("/")[0] not in page_text
    with store.session() as session:
        person = session.scalars(select(Person)).one()
        assert person.consented_at is not None
        assert person.survey == {
            "gender": "Prefer not to say",
            "age": "25-34",
            "education": "Prefer not to say",
            "english": "Prefer not to say",
            "ai_use": "Prefer not to say",
        }
        task = session.scalars(select(Task)).one()
        assert task.finished_at is not None and task.size == 5
        attempts = session.scalars(select(Attempt).order_by(Attempt.id)).all()
        assert [a.status for a in attempts] == [AttemptStatus.FINISHED] * 5
        assert [a.rating for a in attempts] == [0, 1, 2, 3, 4]
        assert [a.task_description for a in attempts] == [f"description {n}" for n in range(5)]
        assert {a.harmfulness for a in attempts} == {1}
    assert rows(store, Turn) == 10 and rows(store, Candidate) == 20
    assert targets.calls == 10  # two candidates per turn from one call


def test_submitting_the_same_form_twice_creates_nothing_twice(
    browser: Browser, store: Store, targets: Targets
):
    browser.join().ready_to_red_team()
    browser.post("/redteam/task")
    browser.post("/redteam/task")
    page = browser.get("/redteam/attempt/new")
    key = re.search(r'name="key" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    task = re.search(r'name="task_id" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"task_id": task, "task_description": "same", "key": key}
    first = browser.post("/redteam/attempt", form)
    second = browser.post("/redteam/attempt", form)
    assert first.url == second.url
    attempt = int(first.url.path.split("/")[-1])
    one = browser.say(attempt, "hello", key="k1")
    two = browser.post(f"/redteam/attempt/{attempt}/turn", {"text": "hello", "key": "k1"})
    assert one.status_code == two.status_code == 200
    browser.pick(attempt, 0, 0)
    browser.pick(attempt, 0, 0)
    browser.finish(attempt, 2)
    again = browser.post(f"/redteam/attempt/{attempt}/finish", {"rating": 2})
    assert again.status_code == 200
    changed = browser.post(f"/redteam/attempt/{attempt}/finish", {"rating": 4})
    assert changed.status_code == 409 and "a rating is final" in changed.text
    assert (rows(store, Task), rows(store, Attempt), rows(store, Turn)) == (1, 1, 1)
    assert rows(store, Candidate) == 2 and targets.calls == 1


def test_a_model_error_shows_a_retry_button_and_writes_nothing(
    browser: Browser, store: Store, targets: Targets
):
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    targets.fail_next()
    page = browser.say(attempt, "please answer", key="retry-key")
    assert page.status_code == 503
    assert "Nothing was saved" in page.text and ">Retry</button>" in page.text
    assert "please answer</textarea>" in page.text  # the message is kept for the retry
    assert 'value="retry-key"' in page.text  # the same key: a retry cannot duplicate
    assert rows(store, Turn) == 0 and rows(store, Candidate) == 0
    page = browser.post(
        f"/redteam/attempt/{attempt}/turn", {"text": "please answer", "key": "retry-key"}
    )
    assert page.status_code == 200 and "Reply 2 is more harmful" in page.text
    assert rows(store, Turn) == 1 and rows(store, Candidate) == 2


def test_the_conversation_rules_show_as_friendly_pages(browser: Browser):
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    early = browser.post(f"/redteam/attempt/{attempt}/finish", {"rating": 3})
    assert early.status_code == 409 and "at least one message" in early.text
    browser.say(attempt, "hi")
    blocked = browser.post(f"/redteam/attempt/{attempt}/turn", {"text": "again", "key": "x2"})
    assert blocked.status_code == 409 and "pick the more harmful" in blocked.text
    bad = browser.post(f"/redteam/attempt/{attempt}/pick", {"turn": 0, "candidate": "two"})
    assert bad.status_code == 400 and "<html" in bad.text


def test_csrf_is_required_on_every_post(browser: Browser, store: Store):
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    for url, data in [
        ("/redteam/task", {}),
        (f"/redteam/attempt/{attempt}/turn", {"text": "hi", "key": "k"}),
        ("/redteam/consent", {"agree": "yes"}),
        ("/logout", {}),
    ]:
        for token in ("", "0" * 64):
            response = browser.client.post(url, data={**data, "csrf_token": token})
            assert response.status_code == 403, url
            assert "another site" in response.text
    assert rows(store, Turn) == 0
    # A token from another person's session does not work either.
    other = Browser(browser.client.app, store).join()
    stolen = browser.client.post(
        f"/redteam/attempt/{attempt}/turn",
        data={"text": "hi", "key": "k", "csrf_token": other.csrf},
    )
    assert stolen.status_code == 403
    # Header form (used by our fetch calls).
    ok = browser.client.post("/redteam/heartbeat", headers={"X-CSRF-Token": browser.csrf})
    assert ok.status_code == 200 and "active_seconds" in ok.json()


def test_logout_ends_the_session(browser: Browser):
    browser.join()
    cookie = browser.client.cookies.get("redline_session")
    assert browser.post("/logout").status_code == 200
    browser.client.cookies.set("redline_session", cookie)  # replaying the old cookie fails
    assert browser.get("/redteam").status_code == 401


def test_an_invite_link_is_used_once(new_browser, store: Store):
    from redline import accounts
    from redline.store.models import Role

    token = accounts.create_invite(store, Role.REDTEAMER, "mturk")
    first = new_browser()
    first.get(f"/invite/{token}")
    assert first.post(f"/invite/{token}").status_code == 200
    second = new_browser()
    page = second.get(f"/invite/{token}")
    assert page.status_code == 410
    assert rows(store, Person) == 1
    with store.session() as session:
        assert session.scalars(select(Person.pool)).one() == "mturk"


def test_a_post_from_another_site_is_refused_even_with_a_token(browser: Browser, store: Store):
    """Origin (or Referer) naming another site is refused before the token is looked at."""
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    url = f"/redteam/attempt/{attempt}/turn"
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a data: URL
        {"Referer": "http://evil.example/page"},
        {"Origin": "http://testserver.evil.example"},
    ):
        data = {"text": "hi", "key": f"k{len(headers)}", "csrf_token": browser.csrf}
        refused = browser.client.post(url, data=data, headers=headers)
        assert refused.status_code == 403, headers
        assert "was sent from another site" in refused.text
    assert rows(store, Turn) == 0
    ours = browser.client.post(
        url,
        data={"text": "hi", "key": "ours", "csrf_token": browser.csrf},
        headers={"Origin": "http://testserver", "Referer": "http://testserver/redteam"},
    )
    assert ours.status_code == 200 and rows(store, Turn) == 1
    assert ours.headers["referrer-policy"] == "same-origin"


def test_the_favicon_is_served(browser: Browser):
    page = browser.get("/")
    assert '<link rel="icon" href="/static/favicon.svg"' in page.text
    icon = browser.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
