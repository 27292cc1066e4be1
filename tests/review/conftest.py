"""Fixtures for review tests: a store with targets, red teamers, reviewers, attempts."""

from __future__ import annotations

import pytest
from review_builders import World, build

from redline.store import Store


@pytest.fixture
def world(store: Store) -> World:
    return build(store)
