"""Shared fixtures: a fresh store on SQLite, and on PostgreSQL when REDLINE_TEST_PG_URL is set.

CI (.ci/run) starts a PostgreSQL server and sets REDLINE_TEST_PG_URL, so every test that
takes the ``store`` fixture runs on both databases there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from redline.store import Store

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PG_URL = os.environ.get("REDLINE_TEST_PG_URL")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; the repo must sit beside ../shared")
    return SHARED_DATA


def _pg_database() -> Iterator[str]:
    assert PG_URL is not None
    name = f"redline_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database; PostgreSQL runs only where REDLINE_TEST_PG_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'redline.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL: set REDLINE_TEST_PG_URL (scripts/start_postgres.sh); CI does")
    yield from _pg_database()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only, for tests that are not about the database."""
    s = Store(f"sqlite:///{tmp_path / 'redline.db'}")
    yield s
    s.dispose()
