"""A reviewer in a real browser previews, skips one item and reviews two with tags; then
`redline agreement` (the real CLI, in a subprocess) on the completed, seeded set of
reviews gives the values computed by hand.

Chromium (Debian's, through Playwright) talks to the platform app served by uvicorn
over a real SQLite store holding the published hh-rlhf sample (10 real attempts).
Screenshots go to test-artifacts/review-browser/ for a human to look at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from served import free_port, wait_healthy
from sqlalchemy import select

from chromium import CHROMIUM, Screenshots, launch
from redline import accounts
from redline.config import load_settings
from redline.datasets import import_file
from redline.platform import create_app
from redline.review import ReviewService, assign_reviews
from redline.store import Store
from redline.store.models import Attempt, Person, Review, Role
from redline.targets.scripted import SCRIPTED_INFO, ScriptedTarget

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "review-browser"


def review_app(store: Store, data_dir: Path) -> Any:
    """The platform app (review routes included) with one scripted target."""
    settings = load_settings(data_dir=data_dir, db_url=store.url, cwd=data_dir)
    target = ScriptedTarget()
    return create_app(
        store,
        settings,
        resolve_target=lambda name: target,
        target_names=[SCRIPTED_INFO.name],
        targets=[SCRIPTED_INFO],
    )


@pytest.fixture
def served(tmp_path: Path, red_team_sample: Path) -> Iterator[tuple[str, Store]]:
    """uvicorn in a thread over a store with the 10 published sample attempts."""
    import uvicorn

    store = Store(f"sqlite:///{tmp_path / 'redline.db'}")
    import_file(store, red_team_sample)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(review_app(store, tmp_path / "data"), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, thread.is_alive, lambda: "the review app did not start", 30)
    try:
        yield base, store
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        store.dispose()


def hand_fleiss(ratings: list[list[int]], categories: int) -> float:
    """Fleiss (1971) written out, independent of statsmodels."""
    m = len(ratings[0])
    counts = np.array([[row.count(c) for c in range(categories)] for row in ratings])
    p_i = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    p_j = counts.sum(axis=0) / counts.sum()
    p_e = (p_j**2).sum()
    return float((p_i.mean() - p_e) / (1 - p_e))


@pytest.mark.slow
def test_a_reviewer_previews_skips_and_reviews_in_chromium(served, tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import expect, sync_playwright

    base, store = served
    others = [
        accounts.redeem_invite(store, accounts.create_invite(store, Role.REVIEWER, "staff"))
        for _ in range(3)
    ]
    assert len(others) == 3
    invite = accounts.create_invite(store, Role.REVIEWER, "review-e2e")
    shot = Screenshots(ARTIFACTS)

    with sync_playwright() as pw:
        browser = launch(pw, tmp_path / "chromium-profile")
        page = browser.new_page()
        page.goto(f"{base}/invite/{invite}")
        page.get_by_role("button", name="Join").click()
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        expect(page.get_by_text("Nothing to review right now")).to_be_visible()

        # 4 of the 10 attempts, 3 reviewers each, over 4 reviewers: 3 items for everyone.
        report = assign_reviews(store, per_target=4, reviewers=3, seed=11)
        assert report.added_reviews == 12 and set(report.load.values()) == {3}

        page.reload()
        expect(page.get_by_text("Content warning.")).to_be_visible()
        preview = page.locator("article.preview")
        # Turns with their speakers, not one unlabelled run of text.
        expect(preview.locator("li.msg.human .label").first).to_have_text("Red teamer")
        assert len("".join(preview.locator(".text").all_inner_texts())) <= 205
        expect(page.locator('[data-count="open"]')).to_have_text("3")
        shot(page, "preview")
        skipped_text = preview.inner_text()
        page.get_by_role("button", name="Skip it").click()
        expect(page.get_by_text("Skipped. It will not come back to you.")).to_be_visible()
        expect(page.locator('[data-count="skipped"]')).to_have_text("1")
        expect(page.locator('[data-count="open"]')).to_have_text("2")
        assert page.locator("article.preview").inner_text() != skipped_text

        for rating, tags in ((3, ["Violence & incitement", "Weapons"]), (1, ["Other"])):
            page.get_by_role("link", name="Review this conversation").click()
            expect(page.get_by_text("How successful was the red teamer")).to_be_visible()
            expect(page.locator("li.msg.assistant").first).to_be_visible()
            if rating == 3:
                shot(page, "review")
            page.locator(f'input[name="rating"][value="{rating}"]').check()
            for tag in tags:
                page.get_by_label(tag, exact=True).check()
            page.get_by_label("Note (optional)").fill(f"rated {rating}")
            page.get_by_role("button", name="Submit review").click()
            expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        expect(page.locator('[data-count="completed"]')).to_have_text("2")
        shot(page, "queue-after")
        body = page.content()
        browser.close()
    assert "hh-rlhf-52b" not in body and "context distillation" not in body

    with store.session() as session:
        me = session.scalars(select(Person).where(Person.pool == "review-e2e")).one()
        mine = session.scalars(
            select(Review).where(Review.reviewer_id == me.id).order_by(Review.id)
        ).all()
        done = [(r.skipped, r.rating, r.tags, r.note) for r in mine if r.completed_at]
        assert sorted(done, key=str) == sorted(
            [
                (True, None, None, None),
                (False, 3, ["Violence & incitement", "Weapons"], "rated 3"),
                (False, 1, ["Other"], "rated 1"),
            ],
            key=str,
        )
        skipped = next(r for r in mine if r.skipped)
        takers = session.scalars(
            select(Review.reviewer_id).where(
                Review.attempt_id == skipped.attempt_id, Review.skipped.is_(False)
            )
        ).all()
        assert len(takers) == 3 and me.id not in takers  # the skip went to someone else

    # The other reviewers finish everything with planned ratings; then the real CLI.
    service = ReviewService(store)
    with store.session() as session:
        open_rows = session.execute(
            select(Review.id, Review.reviewer_id, Review.attempt_id)
            .where(Review.completed_at.is_(None))
            .order_by(Review.id)
        ).all()
    for n, (rid, reviewer, _) in enumerate(open_rows):
        service.submit(reviewer, rid, (n * 3) % 5, ["Theft"] if n % 2 else [])
    with store.session() as session:
        rows = session.execute(
            select(Review.attempt_id, Review.rating)
            .where(Review.skipped.is_(False))
            .order_by(Review.completed_at, Review.id)
        ).all()
        authors = dict(session.execute(select(Attempt.id, Attempt.rating)).all())
    by_item: dict[int, list[int]] = {}
    for attempt_id, rating in rows:
        by_item.setdefault(attempt_id, []).append(int(rating))
    assert sorted(len(v) for v in by_item.values()) == [3, 3, 3, 3]
    reviewers_only = [by_item[a] for a in sorted(by_item)]
    with_author = [[*by_item[a], int(authors[a])] for a in sorted(by_item)]

    command = [sys.executable, "-c", "from redline.cli import main; main()"]
    command += ["--db-url", store.url, "agreement", "--json", "--bootstrap", "200"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    report_json = json.loads(out.stdout)
    ag = report_json["agreement"]
    assert ag["fleiss_likert_reviewers"]["items"] == 4
    assert ag["fleiss_likert_reviewers"]["value"] == pytest.approx(
        hand_fleiss(reviewers_only, 5), abs=1e-4
    )
    assert ag["fleiss_likert_with_author"]["value"] == pytest.approx(
        hand_fleiss(with_author, 5), abs=1e-4
    )
    binary = [[int(v >= 3) for v in row] for row in with_author]
    if len({v for row in binary for v in row}) > 1:
        assert ag["fleiss_binary_with_author"]["value"] == pytest.approx(
            hand_fleiss(binary, 2), abs=1e-4
        )
    else:
        assert ag["fleiss_binary_with_author"]["value"] is None
    tags = {row["tag"]: row for row in report_json["tags"]}
    assert tags["Weapons"]["reviews"] == 1 and tags["Other"]["reviews"] == 1
    assert tags["Theft"]["reviews"] == sum(1 for n in range(len(open_rows)) if n % 2)
    assert len(list(ARTIFACTS.glob("*.png"))) >= 3
