"""Admin side: invites (create, use, revoke, multi-use), login links, the live dashboard
numbers, and the hh-rlhf downloads after a real flow."""

from __future__ import annotations

import json
import re

from platform_helpers import Browser
from sqlalchemy import select, update

from redline import accounts
from redline.datasets import import_file
from redline.store import Store
from redline.store.models import Attempt, Person, Role


def finished_attempt(browser: Browser, description: str, rating: int) -> int:
    attempt = browser.start_attempt(description)
    browser.say(attempt, "first")
    browser.pick(attempt, 0, 1)
    browser.finish(attempt, rating)
    return attempt


def test_invites_are_created_shown_once_used_and_revoked(new_browser, store: Store):
    admin = new_browser().join(Role.ADMIN)
    page = admin.post(
        "/admin/invites", {"role": "redteamer", "pool": "mturk", "max_uses": 2, "note": "batch 1"}
    )
    link = re.search(r'id="new-link">(http://[^<]+)<', page.text).group(1)  # type: ignore[union-attr]
    path = link.split("testserver")[1]
    assert "batch 1" in page.text and "0 / 2" in page.text
    assert link not in admin.get("/admin/invites").text  # shown once only
    for _ in range(2):
        joiner = new_browser()
        joiner.get(path)
        assert joiner.post(path).url.path == "/redteam/instructions"
    assert new_browser().get(path).status_code == 410  # used up
    with store.session() as session:
        pools = session.scalars(select(Person.pool).where(Person.role == Role.REDTEAMER)).all()
    assert sorted(pools) == ["mturk", "mturk"]

    page = admin.post("/admin/invites", {"role": "reviewer", "pool": "staff"})
    link = re.search(r'id="new-link">(http://[^<]+)<', page.text).group(1)  # type: ignore[union-attr]
    invite_id = max(i.id for i in accounts.list_invites(store))
    admin.post(f"/admin/invites/{invite_id}/revoke")
    assert new_browser().get(link.split("testserver")[1]).status_code == 410
    bad = admin.post("/admin/invites", {"role": "emperor", "pool": "staff"})
    assert bad.status_code == 400
    bad = admin.post("/admin/invites", {"role": "admin", "pool": "no spaces <b>"})
    assert bad.status_code == 400


def test_the_first_admin_login_link_works_once_and_expires(new_browser, store: Store):
    token = accounts.ensure_first_admin(store)
    assert token is not None and accounts.ensure_first_admin(store) is None
    admin = new_browser()
    page = admin.get(f"/invite/{token}")
    assert "Sign in" in page.text and "admin" in page.text
    assert admin.post(f"/invite/{token}").url.path == "/admin"
    assert new_browser().get(f"/invite/{token}").status_code == 410
    # An expired link is refused even if unused.
    again = accounts.login_link_token(store, accounts.first_admin_id(store))  # type: ignore[arg-type]
    from datetime import UTC, datetime, timedelta

    from redline.accounts.tokens import token_hash
    from redline.store.models import Invite

    with store.transaction() as session:
        session.execute(
            update(Invite)
            .where(Invite.token_hash == token_hash(again))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    late = new_browser()
    assert late.get(f"/invite/{again}").status_code == 410
    late.csrf = ""
    assert late.client.post(f"/invite/{again}", data={"csrf_token": "x"}).status_code == 403


def test_dashboard_counts_and_downloads(new_browser, store: Store, red_team_sample):
    admin = new_browser().join(Role.ADMIN)
    alice = new_browser().join(pool="upwork").ready_to_red_team()
    bob = new_browser().join(pool="mturk").ready_to_red_team()
    first = finished_attempt(alice, "alice one", 4)
    finished_attempt(alice, "alice two", 3)
    finished_attempt(bob, "bob one", 0)
    with store.transaction() as session:  # scores arrive later (from the PM)
        session.execute(update(Attempt).where(Attempt.id == first).values(min_harmlessness=-1.5))

    data = admin.get("/admin/dashboard.json").json()
    assert data["totals"] == {"people": 2, "attempts": 3, "finished": 3, "turns": 3}
    assert data["histogram"] == {"0": 1, "1": 0, "2": 0, "3": 1, "4": 1}
    assert sum(row["attempts"] for row in data["per_target"]) == 3
    scored = [r for r in data["per_target"] if r["scored"]]
    assert len(scored) == 1 and scored[0]["mean_min_harmlessness"] == -1.5
    members = {row["pool"]: row for row in data["per_member"]}
    assert members["upwork"]["attempts"] == 2 and members["upwork"]["mean_rating"] == 3.5
    assert members["mturk"]["attempts"] == 1
    assert [r["task_description"] for r in data["recent"]][:1] == ["bob one"]

    page = admin.get("/admin")
    assert "alice two" in page.text and "data-live-url" in page.text

    lines = admin.get("/admin/export/red-team-attempts.jsonl").text.splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(r["task_description"] for r in records) == ["alice one", "alice two", "bob one"]
    alice_one = next(r for r in records if r["task_description"] == "alice one")
    assert alice_one["rating"] == 4.0 and alice_one["is_upworker"] is True
    assert alice_one["min_harmlessness_score_transcript"] == -1.5
    assert alice_one["transcript"].startswith("\n\nHuman: first\n\nAssistant: Scripted reply 2")
    pairs = [json.loads(x) for x in admin.get("/admin/export/comparisons.jsonl").text.splitlines()]
    assert len(pairs) == 3
    assert all(
        "Scripted reply 1" in p["chosen"] and "Scripted reply 2" in p["rejected"] for p in pairs
    )
    assert admin.get("/admin/export/nothing.jsonl").status_code == 404

    # Imported red teamers and their attempts are the store's, not this platform's: the
    # dashboard's numbers do not move (redline stats and the report count them).
    import_file(store, red_team_sample)
    after = admin.get("/admin/dashboard.json").json()
    assert after["totals"] == {"people": 2, "attempts": 3, "finished": 3, "turns": 3}


def test_a_bug_shows_a_calm_500_page(app, store: Store, monkeypatch):
    from fastapi.testclient import TestClient

    import redline.platform.routes.admin as admin_routes

    def broken(_store):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    browser = Browser(app, store).join(Role.ADMIN)
    monkeypatch.setattr(admin_routes, "dashboard_data", broken)
    client = TestClient(app, raise_server_exceptions=False, cookies=browser.client.cookies)
    page = client.get("/admin")
    assert page.status_code == 500
    assert "unexpected error" in page.text and "secret internals" not in page.text
