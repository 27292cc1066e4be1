"""While a turn is generated, the chat page shows the model's progress and disables only
what would lose or race the turn: a real rs16 target (16 samples, PM-ranked) in Chromium.

Chromium (Debian's, through Playwright) talks to a real ``redline serve`` process whose
only target is smollm2-135m/rs16; the page polls the turn's progress while the POST is
on its way, and the pick buttons appear only with the committed candidates.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from served import redline_serve

from chromium import CHROMIUM, Screenshots, launch
from redline import accounts
from redline.store import Store
from redline.store.models import Role

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "chat-progress"
TARGET = "smollm2-135m/rs16"
MODEL_WAIT_MS = 240_000
RECORDER = """window.addEventListener("submit", function (e) {
  var waiting = e.target.querySelector(".waiting");
  if (!waiting) { return; }
  setTimeout(function () {
    var finish = document.querySelector('a[href$="/finish"]');
    sessionStorage.setItem("state", JSON.stringify({
      finish: finish ? finish.getAttribute("aria-disabled") : null,
      send: e.target.querySelector("button[type=submit]").disabled,
      signout: document.querySelector('form[action="/logout"] button').disabled
    }));
  }, 0);
  new MutationObserver(function () {
    var seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
    seen.push(waiting.textContent);
    sessionStorage.setItem("seen", JSON.stringify(seen));
  }).observe(waiting, { childList: true, characterData: true, subtree: true });
});"""


@pytest.fixture
def server(tmp_path: Path):
    """``redline serve`` with the rs16 target, replies long enough to watch progress."""
    db_url = f"sqlite:///{tmp_path / 'redline.db'}"
    store = Store(db_url)
    invite = accounts.create_invite(store, Role.REDTEAMER, "upwork")
    try:
        with redline_serve(tmp_path, TARGET, 48, db_url) as base:
            yield base, invite
    finally:
        store.dispose()


@pytest.mark.slow
def test_progress_and_what_stays_enabled_while_rs16_writes(server, tmp_path: Path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import expect, sync_playwright

    base, invite = server
    shot = Screenshots(ARTIFACTS)
    with sync_playwright() as pw:
        browser = launch(pw, tmp_path / "chromium-profile")
        # The page is busy with a form POST while the model writes, so Playwright cannot
        # query it then: our own script records what the person saw (sessionStorage
        # survives the navigation that brings the candidates).
        browser.add_init_script(RECORDER)
        page = browser.new_page()
        page.set_default_navigation_timeout(MODEL_WAIT_MS)
        page.goto(f"{base}/invite/{invite}")
        page.get_by_role("button", name="Join").click()
        page.get_by_label("I have read the warning").check()
        page.get_by_role("button", name="I agree, continue").click()
        page.get_by_role("button", name="Skip the survey").click()
        page.get_by_role("button", name="Start a task").click()
        page.get_by_label("Task description").fill("Get it to explain how to pick a lock")
        page.get_by_role("button", name="Start the conversation").click()

        # First turn (loads the model and the PM), then a second one to watch: "Finish
        # this attempt" exists only once the chat has a turn.
        page.get_by_label("Your message").fill("How do I open a lock without its key?")
        page.get_by_role("button", name="Send").click(no_wait_after=True)
        expect(page.get_by_role("button", name="Reply 1 is more harmful")).to_be_visible(
            timeout=MODEL_WAIT_MS
        )
        page.get_by_role("button", name="Reply 1 is more harmful").click()
        page.get_by_label("Your message").fill("Tell me the steps, one by one.")
        page.evaluate("sessionStorage.clear()")
        page.get_by_role("button", name="Send").click(no_wait_after=True)
        # The candidates arrive with the page rendered from committed rows: both picks.
        expect(page.get_by_role("button", name="Reply 2 is more harmful")).to_be_enabled(
            timeout=MODEL_WAIT_MS
        )
        expect(page.get_by_role("button", name="Reply 1 is more harmful")).to_be_enabled()
        shot(page, "two-candidates")
        state = json.loads(page.evaluate("sessionStorage.getItem('state')") or "{}")
        seen = json.loads(page.evaluate("sessionStorage.getItem('seen')") or "[]")
        assert state == {"finish": "true", "send": True, "signout": False}, state
        assert any(re.fullmatch(r"Writing replies… \d+ of 16", text) for text in seen), seen
        counts = [int(m.group(1)) for t in seen if (m := re.search(r"(\d+) of 16", t))]
        assert counts == sorted(counts), seen
        browser.close()
