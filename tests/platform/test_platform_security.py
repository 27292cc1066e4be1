"""Security: hostile text renders as text everywhere, every role against every route."""

from __future__ import annotations

import json

import pytest
from markupsafe import escape
from platform_helpers import Browser, Targets
from sqlalchemy import func, select

from redline.store import Store
from redline.store.models import (
    Attempt,
    Invite,
    Person,
    Review,
    Role,
    Task,
    Turn,
    WebSession,
    WellbeingSurvey,
)

PAYLOADS = [
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg onload=alert(2)>",
    "{{ 12345*9 }}{% raw %}",
]


def assert_escaped(text: str, payload: str, page: str) -> None:
    if str(escape(payload)) != payload:  # text with markup must never appear raw
        assert payload not in text, f"raw payload {payload!r} on {page}"
    else:  # template syntax is shown, not evaluated
        assert "111105" not in text, f"template evaluated on {page}"
    assert str(escape(payload)) in text, f"escaped payload {payload!r} missing on {page}"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_text_renders_as_text_on_every_page(new_browser, targets: Targets, payload: str):
    red = new_browser().join().ready_to_red_team()
    admin = new_browser().join(Role.ADMIN)
    targets.reply_with(f"model says {payload}")
    attempt = red.start_attempt(f"task {payload}")
    chat = red.say(attempt, f"human says {payload}")
    assert chat.status_code == 200
    for needle in (f"task {payload}", f"human says {payload}", f"model says {payload} (1)"):
        assert_escaped(chat.text, needle, "chat")
    red.pick(attempt, 0, 1)
    assert_escaped(red.get(f"/redteam/attempt/{attempt}/finish").text, f"task {payload}", "finish")
    red.finish(attempt, 4)

    dashboard = admin.get("/admin")
    assert_escaped(dashboard.text, f"task {payload}", "dashboard")
    data = admin.get("/admin/dashboard.json")
    assert data.headers["content-type"].startswith("application/json")
    assert data.json()["recent"][0]["task_description"] == f"task {payload}"
    detail = admin.get(f"/admin/attempt/{attempt}")
    for needle in (f"task {payload}", f"human says {payload}", f"model says {payload} (0)"):
        assert_escaped(detail.text, needle, "admin attempt")
    for kind in ("red-team-attempts", "comparisons"):
        preview = admin.get(f"/admin/export/{kind}")
        assert preview.status_code == 200
        as_json = json.dumps(f"model says {payload}", ensure_ascii=False)[1:-1]
        assert_escaped(preview.text, as_json, f"{kind} preview")  # JSON text inside <pre>
        download = admin.get(f"/admin/export/{kind}.jsonl")
        assert download.headers["content-type"].startswith("application/x-ndjson")
        assert "attachment" in download.headers["content-disposition"]
        assert json.loads(download.text.splitlines()[0])
    for page in (chat, dashboard, detail):
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"


def counts(store: Store) -> tuple[int, ...]:
    with store.session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(m)) or 0
            for m in (Task, Attempt, Turn, Invite, WebSession, Review, WellbeingSurvey)
        )


def test_authorization_matrix(new_browser, store: Store):
    owner = new_browser().join().ready_to_red_team()
    attempt = owner.start_attempt("owner's attempt")
    owner.say(attempt, "hello")
    with store.session() as session:
        task_id = session.scalar(select(Attempt.task_id))
        invite_id = session.scalar(select(func.max(Invite.id)))
    other = new_browser().join().ready_to_red_team()
    reviewer = new_browser().join(Role.REVIEWER)
    admin = new_browser().join(Role.ADMIN)
    anonymous = new_browser()
    anonymous.get("/")  # a pre-session CSRF cookie, as a real browser would have
    with store.transaction() as session:
        reviewer_id = session.scalar(select(Person.id).where(Person.role == Role.REVIEWER))
        review = Review(attempt_id=attempt, reviewer_id=reviewer_id)
        session.add(review)
        session.flush()
        review_id = review.id

    a = f"/redteam/attempt/{attempt}"
    redteam_general = [
        ("GET", "/redteam"),
        ("GET", "/redteam/instructions"),
        ("GET", "/redteam/survey"),
        ("GET", "/redteam/attempt/new"),
        ("POST", "/redteam/heartbeat"),
    ]
    owner_only = [
        ("GET", a),
        ("GET", f"{a}/finish"),
        ("GET", f"/redteam/break?task={task_id}"),
        ("POST", f"{a}/turn"),
        ("POST", f"{a}/pick"),
        ("POST", f"{a}/finish"),
        ("POST", "/redteam/attempt"),
    ]
    admin_routes = [
        ("GET", "/admin"),
        ("GET", "/admin/dashboard.json"),
        ("GET", "/admin/invites"),
        ("GET", f"/admin/attempt/{attempt}"),
        ("GET", "/admin/export/red-team-attempts"),
        ("GET", "/admin/export/comparisons"),
        ("GET", "/admin/export/red-team-attempts.jsonl"),
        ("GET", "/admin/export/comparisons.jsonl"),
        ("POST", "/admin/invites"),
        ("POST", f"/admin/invites/{invite_id}/revoke"),
    ]
    review_routes = [
        ("GET", "/review"),
        ("GET", f"/review/{review_id}"),
        ("POST", f"/review/{review_id}"),
        ("POST", f"/review/{review_id}/skip"),
        ("GET", "/review/wellbeing"),
        ("POST", "/review/wellbeing"),
    ]
    review_admin_routes = [
        ("GET", "/review/admin"),
        ("GET", "/review/admin/summary.json"),
        ("POST", "/review/admin/assign"),
    ]
    forms = {
        "/redteam/attempt": {"task_id": task_id, "task_description": "x", "key": "matrix"},
        f"{a}/turn": {"text": "intruder", "key": "matrix"},
        f"{a}/pick": {"turn": 0, "candidate": 0},
        f"{a}/finish": {"rating": 0},
        "/admin/invites": {"role": "admin", "pool": "evil"},
        f"/review/{review_id}": {"rating": 1, "tags": "Theft"},
        "/review/admin/assign": {"per_target": 1, "reviewers": 1},
    }
    people = {
        "anonymous": anonymous,
        "owner": owner,
        "other": other,
        "reviewer": reviewer,
        "admin": admin,
    }
    allowed = {
        "anonymous": set(),
        "owner": {*redteam_general, *owner_only},
        "other": {*redteam_general},
        "reviewer": {*review_routes},
        "admin": {*redteam_general, *admin_routes, *review_admin_routes},
    }
    all_routes = redteam_general + owner_only + admin_routes + review_routes + review_admin_routes

    def call(who: Browser, method: str, url: str) -> int:
        if method == "GET":
            return who.client.get(url, follow_redirects=False).status_code
        data = {"csrf_token": who.csrf, **forms.get(url, {})}
        return who.client.post(url, data=data, follow_redirects=False).status_code

    before = counts(store)
    for name, who in people.items():
        for method, url in all_routes:
            if (method, url) in allowed[name]:
                continue
            status = call(who, method, url)
            expected = 401 if name == "anonymous" else 403
            if name in {"other", "admin"} and (method, url) in owner_only:
                expected = 404  # red teamers: someone else's attempt answers as a missing one
            assert status == expected, f"{name} {method} {url}: {status}"
    assert counts(store) == before, "a refused request wrote something"
    for name, who in people.items():
        for method, url in all_routes:
            if (method, url) not in allowed[name]:
                continue
            status = call(who, method, url)
            assert status in {200, 303, 400, 409}, f"{name} {method} {url}: {status}"


def test_direction_controls_are_isolated_and_shown(new_browser, targets: Targets):
    """ "hi \u202eevil" must not read "hi live" to the admin: each piece of people's text is
    in its own <bdi>, and direction controls are visible markers, never the raw character."""
    red = new_browser().join().ready_to_red_team()
    admin = new_browser().join(Role.ADMIN)
    targets.reply_with("model \u2067says\u2069")
    attempt = red.start_attempt("task \u202eevil")
    chat = red.say(attempt, "hi \u202dthere\u200f")
    red.pick(attempt, 0, 1)
    finish = red.get(f"/redteam/attempt/{attempt}/finish")
    red.finish(attempt, 2)
    pages = {
        "chat": chat.text,
        "finish": finish.text,
        "dashboard": admin.get("/admin").text,
        "admin attempt": admin.get(f"/admin/attempt/{attempt}").text,
    }
    for name, html in pages.items():
        for raw in "\u202e\u202d\u200f\u2067\u2069":
            assert raw not in html, f"raw U+{ord(raw):04X} on {name}"
        assert '<bdi>task <span class="ctl"' in html and "[U+202E]</span>evil</bdi>" in html, name
    for name in ("chat", "admin attempt"):
        assert "[U+202D]</span>there<span" in pages[name] and "[U+200F]" in pages[name]
        assert "[U+2067]</span>says<span" in pages[name] and "[U+2069]" in pages[name]
