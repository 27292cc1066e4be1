"""A real server process: first start prints the admin login URL; a SIGKILL in the middle
of a conversation loses no committed turn and the red teamer carries on after restart."""

from __future__ import annotations

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
from sqlalchemy import select

from redline.store import Store
from redline.store.models import Attempt, AttemptStatus, Turn

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``redline serve --scripted`` as a child process on a data directory."""

    def __init__(self, data_dir: Path, db_url: str) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Start and wait until it answers; returns what it printed (the banner)."""
        cmd = [
            sys.executable, "-c", "from redline.cli import main; main()",
            "--data-dir", str(self.data_dir), "--db-url", self.db_url,
            "serve", "--scripted", "--port", str(self.port),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "400"},
        )
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited: {self.proc.stdout.read()!r}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not start within 60 s")
        return (self.proc.stdout.read() or b"").decode()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Client:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, follow_redirects=True, timeout=30)
        self.csrf = ""

    def get(self, url: str) -> httpx.Response:
        r = self.http.get(url)
        if m := CSRF_RE.search(r.text):
            self.csrf = m.group(1)
        return r

    def post(self, url: str, data: dict[str, object] | None = None) -> httpx.Response:
        r = self.http.post(url, data={"csrf_token": self.csrf, **(data or {})})
        if m := CSRF_RE.search(r.text):
            self.csrf = m.group(1)
        return r

    def key(self, page: httpx.Response) -> str:
        return re.search(r'name="key" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]


@pytest.mark.slow
def test_sigkill_mid_conversation_loses_no_committed_turn(tmp_path: Path, db_url: str):
    server = Server(tmp_path / "data", db_url)
    try:
        banner = server.start()
        admin_url = re.search(r"(http://\S+/invite/[A-Za-z0-9_-]+)", banner).group(1)  # type: ignore[union-attr]
        admin = Client(server.url)
        admin.get(admin_url.replace(f"http://127.0.0.1:{server.port}", ""))
        assert "/admin" in str(admin.post(admin_url.split(str(server.port))[1]).url)
        page = admin.post("/admin/invites", {"role": "redteamer", "pool": "upwork"})
        invite = re.search(r'id="new-link">(http://[^<]+)<', page.text).group(1)  # type: ignore[union-attr]

        red = Client(server.url)
        path = invite.split(str(server.port))[1]
        red.get(path)
        red.post(path)
        red.post("/redteam/consent", {"agree": "yes"})
        red.post("/redteam/survey", {"skip": "1"})
        page = red.post("/redteam/task")
        task_id = re.search(r'name="task_id" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
        page = red.post(
            "/redteam/attempt",
            {"task_id": task_id, "task_description": "survive a crash", "key": red.key(page)},
        )
        attempt_url = str(page.url.path)
        page = red.post(f"{attempt_url}/turn", {"text": "first message", "key": red.key(page)})
        page = red.post(f"{attempt_url}/pick", {"turn": 0, "candidate": 1})
        page = red.post(f"{attempt_url}/turn", {"text": "second message", "key": red.key(page)})
        assert "Reply 2 is more harmful" in page.text  # the turn was shown, so committed

        server.kill()
        banner = server.start()
        assert "Admin login" not in banner  # the admin exists: no new login link

        page = red.get("/redteam")  # the same browser session survives the restart
        assert page.url.path == attempt_url
        assert "first message" in page.text and "second message" in page.text
        page = red.post(f"{attempt_url}/pick", {"turn": 1, "candidate": 0})
        page = red.post(f"{attempt_url}/turn", {"text": "third message", "key": red.key(page)})
        red.post(f"{attempt_url}/pick", {"turn": 2, "candidate": 0})
        page = red.post(f"{attempt_url}/finish", {"rating": 3})
        assert page.status_code == 200 and "/attempt/new" in str(page.url)
    finally:
        server.stop()
    store = Store(db_url)
    try:
        with store.session() as session:
            attempt = session.scalars(select(Attempt)).one()
            assert attempt.status is AttemptStatus.FINISHED and attempt.rating == 3.0
            turns = session.scalars(select(Turn).order_by(Turn.index)).all()
            assert [t.human for t in turns] == ["first message", "second message", "third message"]
            assert all(len(t.candidates) == 2 for t in turns)
            assert [next(c.index for c in t.candidates if c.picked) for t in turns] == [1, 0, 0]
    finally:
        store.dispose()
