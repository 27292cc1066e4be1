"""Shared fixtures: a fresh store on SQLite, and on PostgreSQL when REDLINE_TEST_PG_URL is set;
the data files tests read.

CI (.ci/run) starts a PostgreSQL server and sets REDLINE_TEST_PG_URL, so every test that
takes the ``store`` fixture runs on both databases there.

Data comes from inside the repository only: ``tests/data`` (provenance and licence in
``tests/data/README.md``) and the package's own hh-rlhf pairs (``redline.data``), the same
file the commands default to, so a fresh clone or an sdist runs the tests as they are.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from redline.data import harmless_base_pairs
from redline.store import Store

TEST_DATA = Path(__file__).resolve().parent / "data"
PG_URL = os.environ.get("REDLINE_TEST_PG_URL")


@pytest.fixture(scope="session")
def red_team_sample() -> Path:
    """The first 10 hh-rlhf red-team attempts, one JSON array."""
    return TEST_DATA / "red_team_attempts.sample.json"


@pytest.fixture(scope="session")
def red_team_sample_jsonl() -> Path:
    """The same 10 red-team attempts, one JSON object per line."""
    return TEST_DATA / "red_team_attempts.sample.jsonl"


@pytest.fixture(scope="session")
def reference_stats_file() -> Path:
    """Published numbers of the red-team dataset (Table 1, cell statistics, tags)."""
    return TEST_DATA / "reference_stats.json"


@pytest.fixture
def reference_stats(reference_stats_file: Path) -> dict[str, Any]:
    """``reference_stats_file`` parsed (a fresh copy per test)."""
    return json.loads(reference_stats_file.read_text())


@pytest.fixture(scope="session")
def harmless_pairs() -> Path:
    """The packaged 1,600 hh-rlhf harmless-base pairs (``chosen``/``rejected``)."""
    return harmless_base_pairs()


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
