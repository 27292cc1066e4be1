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
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chromium import CHROMIUM, Screenshots, launch
from redline.platform import accounts
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path):
    """``redline serve`` with the rs16 target, replies long enough to watch progress."""
    targets = tmp_path / "targets.toml"
    targets.write_text(
        f'[[targets]]\nname = "{TARGET}"\nbackend = "llamacpp"\nmodel = "smollm2-135m"\n'
        "max_tokens = 48\n"
    )
    db_url = f"sqlite:///{tmp_path / 'redline.db'}"
    store = Store(db_url)
    invite = accounts.create_invite(store, Role.REDTEAMER, "upwork")
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    cmd = [
        sys.executable, "-c", "from redline.cli import main; main()",
        "--data-dir", str(tmp_path / "data"), "--db-url", db_url, "--targets", str(targets),
        "serve", "--port", str(port), "--target", TARGET,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).text == "ok":
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"server did not start: {(tmp_path / 'server.log').read_text()}")
        time.sleep(0.2)
    try:
        yield base, invite
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
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
