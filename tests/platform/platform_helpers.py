"""Helpers for platform tests: scripted targets by name and a browser-like client."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from redline import accounts
from redline.config import Settings
from redline.errors import NotFoundError
from redline.store import Store
from redline.store.models import Role
from redline.targets.base import TargetInfo
from redline.targets.scripted import ScriptedTarget

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
TARGET_NAMES = ["scripted-0m/plain", "scripted-0m/hhh"]


def scripted_info(name: str) -> TargetInfo:
    return TargetInfo(
        name=name,
        family="scripted",
        size_label="0M",
        num_params=0,
        model_type="plain lm",
        defence=name.split("/")[-1],
    )


class Targets:
    """Scripted targets by name; tests change their replies or make them fail."""

    def __init__(self) -> None:
        self.models = {n: ScriptedTarget(scripted_info(n)) for n in TARGET_NAMES}

    def __call__(self, name: str) -> ScriptedTarget:
        return self.models[name]

    def fail_next(self, times: int = 1) -> None:
        for model in self.models.values():
            model.fail_times = times

    def reply_with(self, text: str) -> None:
        for model in self.models.values():
            model._reply_fn = lambda conversation, i, text=text: f"{text} ({i})"

    @property
    def calls(self) -> int:
        return sum(m.calls for m in self.models.values())


class Browser:
    """A TestClient with one cookie jar, which signs in through invites like a person."""

    def __init__(self, app: Any, store: Store) -> None:
        self.client = TestClient(app, follow_redirects=True)
        self.store = store
        self.csrf = ""

    def get(self, url: str, **kwargs: Any) -> Response:
        response = self.client.get(url, **kwargs)
        found = CSRF_RE.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Response:
        payload = {"csrf_token": self.csrf, **(data or {})}
        response = self.client.post(url, data=payload, **kwargs)
        found = CSRF_RE.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def join(self, role: Role = Role.REDTEAMER, pool: str = "staff") -> Browser:
        token = accounts.create_invite(self.store, role, pool)
        self.get(f"/invite/{token}")
        response = self.post(f"/invite/{token}")
        assert response.status_code == 200, response.text
        return self

    def ready_to_red_team(self) -> Browser:
        """Consent and skip the survey, as a returning red teamer would have."""
        self.get("/redteam/instructions")
        self.post("/redteam/consent", {"agree": "yes"})
        self.post("/redteam/survey", {"skip": "1"})
        return self

    def start_attempt(self, description: str = "get it to say something rude") -> int:
        page = self.get("/redteam")
        if "/attempt/new" not in str(page.url):
            page = self.post("/redteam/task")
        assert "/attempt/new" in str(page.url), page.text
        key = re.search(r'name="key" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
        task = re.search(r'name="task_id" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
        chat = self.post(
            "/redteam/attempt", {"task_id": task, "task_description": description, "key": key}
        )
        assert chat.status_code == 200, chat.text
        return int(str(chat.url).rstrip("/").split("/")[-1])

    def say(self, attempt: int, text: str, key: str | None = None) -> Response:
        page = self.get(f"/redteam/attempt/{attempt}")
        if key is None:
            key = re.search(r'name="key" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
        return self.post(f"/redteam/attempt/{attempt}/turn", {"text": text, "key": key})

    def pick(self, attempt: int, turn: int, candidate: int) -> Response:
        return self.post(f"/redteam/attempt/{attempt}/pick", {"turn": turn, "candidate": candidate})

    def finish(self, attempt: int, rating: int, **optional: int) -> Response:
        self.get(f"/redteam/attempt/{attempt}/finish")
        return self.post(f"/redteam/attempt/{attempt}/finish", {"rating": rating, **optional})


class CrashOnce:
    """A scripted target whose first reply kills its process (SIGSEGV), as a broken model
    kernel would; later replies (in the restarted worker) are scripted. ``marker`` is a
    file, so "first" holds across worker processes."""

    def __init__(self, info: TargetInfo, marker: Path) -> None:
        self.info = info
        self.marker = marker

    def reply(self, conversation: Any, n: int = 2, seed: int | None = None) -> Any:
        if not self.marker.exists():
            self.marker.write_text("crashed once")
            # To this thread, not the process: the worker answers requests in threads, and a
            # process-directed signal may land on another thread a moment later, after this
            # one has already sent its reply. Never return from here.
            signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)
            threading.Event().wait()
        return ScriptedTarget(self.info).reply(conversation, n, seed)


def crash_once_factory(name: str, settings: Settings) -> CrashOnce:
    """A ModelWorker factory (module level: it is pickled into the worker process)."""
    if name == "raises/plain":
        raise NotFoundError(f"unknown target {name!r}")
    return CrashOnce(scripted_info(name), settings.data_dir / "crashed-once")
