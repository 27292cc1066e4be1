"""A platform app over a real database with scripted targets, and a browser-like client.

The flow is the point of these tests, so targets are scripted (instant, deterministic);
the real model and the real browser are exercised in tests/e2e.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from platform_helpers import TARGET_NAMES, Browser, Targets

from redline.config import load_settings
from redline.platform import create_app
from redline.store import Store


@pytest.fixture
def targets() -> Targets:
    return Targets()


@pytest.fixture
def app(store: Store, targets: Targets, tmp_path: Path) -> Any:
    settings = load_settings(data_dir=tmp_path / "data", db_url=store.url, cwd=tmp_path)
    return create_app(
        store,
        settings,
        resolve_target=targets,
        target_names=TARGET_NAMES,
        targets=[m.info for m in targets.models.values()],
    )


@pytest.fixture
def browser(app: Any, store: Store) -> Iterator[Browser]:
    b = Browser(app, store)
    yield b
    b.client.close()


@pytest.fixture
def new_browser(app: Any, store: Store) -> Iterator[Any]:
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(app, store))
        return made[-1]

    yield make
    for b in made:
        b.client.close()
