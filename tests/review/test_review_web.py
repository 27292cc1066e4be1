"""The review task over HTTP: admin assigns, reviewers preview, skip and review, the
well-being survey after 10 reviews, the admin panels; roles, CSRF, escaping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from review_builders import World, add_attempt, build
from review_web import Browser, review_app
from sqlalchemy import select

from redline.store import Store
from redline.store.models import Person, Review, Role

ITEM_RE = re.compile(r'href="/review/(\d+)" id="review-item"')
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def app(store: Store, tmp_path: Path) -> Any:
    return review_app(store, tmp_path / "data")


@pytest.fixture
def browsers(app: Any, store: Store) -> Iterator[Any]:
    made: list[Browser] = []

    def make(role: Role) -> Browser:
        made.append(Browser(app, store).join(role))
        return made[-1]

    yield make
    for b in made:
        b.client.close()


def _people(store: Store, role: Role) -> list[int]:
    with store.session() as session:
        return list(session.scalars(select(Person.id).where(Person.role == role)))


def _reviews(store: Store, reviewer: int) -> list[Review]:
    with store.session() as session:
        return list(
            session.scalars(
                select(Review).where(Review.reviewer_id == reviewer).order_by(Review.id)
            )
        )


def test_admin_assigns_and_a_reviewer_previews_skips_and_reviews(
    store: Store, browsers: Any
) -> None:
    world: World = build(store, targets=("hidden-9m/rs16",), per_target=3, reviewers=0)
    add_attempt(store, world.targets["hidden-9m/rs16"], world.redteamers[1], human=EVIL)
    admin = browsers(Role.ADMIN)
    reviewers = [browsers(Role.REVIEWER) for _ in range(3)]
    page = admin.post("/review/admin/assign", {"per_target": "4", "reviewers": "3", "seed": "7"})
    assert page.status_code == 200 and "12 reviews assigned." in page.text
    assert "hidden-9m/rs16" in page.text  # admins see targets; reviewers never do

    me = reviewers[0]
    my_id = _people(store, Role.REVIEWER)[0]
    queue = me.get("/review")
    assert "Content warning" in queue.text and "Preview" in queue.text
    assert 'waiting: <span data-count="open">4</span>' in queue.text
    first = int(ITEM_RE.search(queue.text).group(1))  # type: ignore[union-attr]
    skipped = me.post(f"/review/{first}/skip")
    assert skipped.url.path == "/review" and "Skipped" in skipped.text
    assert 'skipped: <span data-count="skipped">1</span>' in skipped.text
    assert first != int(ITEM_RE.search(skipped.text).group(1))  # type: ignore[union-attr]
    assert me.get(f"/review/{first}").url.path == "/review"  # a skipped item stays gone

    texts = []
    for tags in (["Theft", "Weapons"], ["Other"]):
        queue = me.get("/review")
        rid = int(ITEM_RE.search(queue.text).group(1))  # type: ignore[union-attr]
        page = me.get(f"/review/{rid}")
        texts += [queue.text, page.text]
        assert "How successful was the red teamer" in page.text
        assert page.text.count('type="checkbox" name="tags"') == 20
        extra = [*tags, "Adult content", "Self-harm"]
        too_many = me.post(f"/review/{rid}", {"rating": "3", "tags": extra, "note": "kept"})
        assert too_many.status_code == 400 and "at most 2 tags" in too_many.text
        assert f'value="{tags[0]}" checked' in too_many.text and ">kept</textarea>" in too_many.text
        done = me.post(f"/review/{rid}", {"rating": "3", "tags": tags, "note": "n"})
        assert done.url.path == "/review"
        again = me.post(f"/review/{rid}", {"rating": "3", "tags": tags, "note": "n"})
        assert again.status_code == 200  # a double click changes nothing
        changed = me.post(f"/review/{rid}", {"rating": "1"})
        assert changed.status_code == 409 and "already submitted" in changed.text

    rows = _reviews(store, my_id)
    assert [(r.skipped, r.rating, r.tags) for r in rows if r.completed_at] == [
        (True, None, None),
        (False, 3, ["Theft", "Weapons"]),
        (False, 3, ["Other"]),
    ]
    # The skipped item went to nobody else here (all 3 reviewers already had it).
    for text in texts:
        assert "hidden-9m" not in text and "rs16" not in text
        for handle in ("rt0", "rt1", "rt2"):
            assert f">{handle}<" not in text
    # Adversarial text is shown as text, never as markup.
    evil_pages = []
    for b in reviewers[1:]:
        for r in _reviews(store, _people(store, Role.REVIEWER)[reviewers.index(b)]):
            evil_pages.append(b.get(f"/review/{r.id}").text)
    joined = "".join(evil_pages)
    assert "&lt;script&gt;alert(" in joined and "<script>alert(" not in joined
    assert "<img src=x" not in joined


def test_roles_csrf_and_ownership(store: Store, browsers: Any) -> None:
    build(store, targets=("fam-1m/plain",), per_target=2, reviewers=0)
    alice, bob = browsers(Role.REVIEWER), browsers(Role.REVIEWER)
    redteamer = browsers(Role.REDTEAMER)
    admin = browsers(Role.ADMIN)
    admin.post("/review/admin/assign", {"per_target": "2", "reviewers": "1", "seed": "1"})
    assert redteamer.get("/review").status_code == 403
    assert alice.get("/review/admin").status_code == 403
    assert alice.post("/review/admin/assign", {"per_target": "1"}).status_code == 403
    bobs = _reviews(store, _people(store, Role.REVIEWER)[1])
    assert bobs
    assert alice.get(f"/review/{bobs[0].id}").status_code == 404
    assert alice.post(f"/review/{bobs[0].id}/skip").status_code == 404
    no_token = alice.client.post(f"/review/{bobs[0].id}", data={"rating": "2"})
    assert no_token.status_code == 403
    assert bob.get("/review").status_code == 200
    # Too few reviewers is a clear message on the admin page, not a crash.
    page = admin.post("/review/admin/assign", {"per_target": "2", "reviewers": "5"})
    assert page.status_code == 400 and "reviewer role" in page.text


def test_wellbeing_survey_after_ten_reviews_and_admin_panel(store: Store, browsers: Any):
    build(store, targets=("fam-1m/plain",), per_target=12, reviewers=0)
    me = browsers(Role.REVIEWER)
    admin = browsers(Role.ADMIN)
    admin.post("/review/admin/assign", {"per_target": "12", "reviewers": "1", "seed": "2"})
    page = None
    for n in range(10):
        queue = me.get("/review")
        rid = int(ITEM_RE.search(queue.text).group(1))  # type: ignore[union-attr]
        note = "borderline: asks twice" if n == 0 else ""
        page = me.post(f"/review/{rid}", {"rating": str(n % 5), "tags": ["Theft"], "note": note})
        if n < 9:
            assert page.url.path == "/review", n
    assert page is not None and page.url.path == "/review/wellbeing"
    assert "How are you feeling?" in page.text and page.text.count('type="radio"') == 50
    assert "another 10 reviews" in me.get("/review").text
    done = me.post("/review/wellbeing", {"upset": "1", "alert": "3", "comment": EVIL})
    assert done.url.path == "/review" and "another 10 reviews" not in done.text
    panel = admin.get("/review/admin")
    assert panel.status_code == 200
    assert re.search(r"<td>upset</td><td>1.00</td><td>1</td>", panel.text)
    assert re.search(r"<td>alert</td><td>3.00</td><td>1</td>", panel.text)
    assert "&lt;script&gt;" in panel.text and "<script>alert" not in panel.text
    assert "Fleiss&#39; kappa, 0-4 scale" in panel.text or "Fleiss' kappa" in panel.text
    assert re.search(r"<td><bdi>Theft</bdi></td><td>10</td><td>0</td><td>10</td>", panel.text)
    # Well-being comments reach admins without the reviewer's name (no opt-in here).
    comments = panel.text.split('id="wellbeing-comments"')[1]
    with store.session() as session:
        handle = session.scalar(select(Person.handle).where(Person.role == Role.REVIEWER))
    assert handle and "&lt;script&gt;" in comments and handle not in comments
    notes = panel.text.split('id="review-notes"')[1].split("</table>")[0]
    assert notes.count("<tr>") == 2 and "borderline: asks twice" in notes  # header + one
    assert re.search(r'<a href="/admin/attempt/\d+">', notes)
    assert "built-in method" not in panel.text
    assert panel.text.count('<span class="muted">(n=10)</span>') == 6
    summary = admin.get("/review/admin/summary.json").json()
    assert summary["progress"]["done"] == 10 and summary["wellbeing"]["answered"] == 1
    assert [c["handle"] for c in summary["wellbeing"]["comments"]] == [None]
    assert summary["agreement"]["reviewers_per_item"] == 1
    assert summary["agreement"]["fleiss_likert_reviewers"]["value"] is None  # one rater
    assert me.get("/review/admin/summary.json").status_code == 403


def test_a_failed_assignment_keeps_what_the_admin_typed(store: Store, browsers: Any) -> None:
    build(store, targets=("fam-1m/plain",), per_target=3, reviewers=0)
    browsers(Role.REVIEWER)
    admin = browsers(Role.ADMIN)
    page = admin.post(
        "/review/admin/assign",
        {"per_target": "7", "reviewers": "4", "seed": "11", "targets": ["fam-1m/plain"]},
    )
    assert page.status_code == 400 and "need at least 4 people" in page.text
    assert 'name="per_target" value="7"' in page.text and 'name="reviewers" value="4"' in page.text
    assert 'name="seed" value="11"' in page.text
    assert '<option value="fam-1m/plain" selected>' in page.text
    bad_seed = admin.post(
        "/review/admin/assign", {"per_target": "5", "reviewers": "1", "seed": "x"}
    )
    assert bad_seed.status_code == 400 and "whole number" in bad_seed.text
    assert 'name="per_target" value="5"' in bad_seed.text
