"""The platform app over a real store, and a browser-like client that signs in through
invite links (as reviewers and admins do)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from redline import accounts
from redline.config import load_settings
from redline.platform import create_app
from redline.store import Store
from redline.store.models import Role
from redline.targets.scripted import SCRIPTED_INFO, ScriptedTarget

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


def review_app(store: Store, data_dir: Path) -> FastAPI:
    """The platform app (its review routes are ``routes/review.py``), one scripted target."""
    settings = load_settings(data_dir=data_dir, db_url=store.url, cwd=data_dir)
    target = ScriptedTarget()
    return create_app(
        store,
        settings,
        resolve_target=lambda name: target,
        target_names=[SCRIPTED_INFO.name],
        targets=[SCRIPTED_INFO],
    )


class Browser:
    """A TestClient with one cookie jar; keeps the page's CSRF token for the next POST."""

    def __init__(self, app: Any, store: Store) -> None:
        self.client = TestClient(app, follow_redirects=True)
        self.store = store
        self.csrf = ""

    def _track(self, response: Response) -> Response:
        found = CSRF_RE.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, url: str, **kwargs: Any) -> Response:
        return self._track(self.client.get(url, **kwargs))

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Response:
        payload = {"csrf_token": self.csrf, **(data or {})}
        return self._track(self.client.post(url, data=payload, **kwargs))

    def join(self, role: Role) -> Browser:
        token = accounts.create_invite(self.store, role, "staff")
        self.get(f"/invite/{token}")
        response = self.post(f"/invite/{token}")
        assert response.status_code == 200, response.text
        return self
