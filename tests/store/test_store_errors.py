"""Issue 14: database trouble is a one-line error (exit 2) that writes nothing.

Unknown future schema, a file that is not a database, an unsupported URL scheme,
concurrent imports (into a fresh database and of the same file) and a PostgreSQL server
that goes away mid-import. Real SQLite files and real PostgreSQL servers throughout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from tests.support.synthetic import write_synthetic
from typer.testing import CliRunner

from redline.cli import app
from redline.datasets import import_file
from redline.errors import StoreError
from redline.store import Person, Store
from redline.store.engine import head_revision
from row_counts import row_counts

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = TEST_DATA / "red_team_attempts.sample.json"


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def rejected(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    return " ".join(result.output.split())


def test_a_database_from_a_newer_redline_is_refused(db_url: str) -> None:
    Store(db_url).dispose()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    message = rejected(cli("--db-url", db_url, "import", str(SAMPLE)))
    assert "9999_future" in message and "newer than this Redline" in message
    assert head_revision() in message and "upgrade Redline" in message
    with engine.connect() as conn:  # not downgraded, not touched
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "9999_future"
        )
        assert conn.execute(text("SELECT count(*) FROM attempt")).scalar() == 0
    engine.dispose()


@pytest.mark.parametrize(
    "content", [b"this is a text file, not a database\n" * 40, bytes(range(256)) * 20]
)
def test_a_file_that_is_not_a_database(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    message = rejected(cli("--db-url", f"sqlite:///{path}", "import", str(SAMPLE)))
    assert "is not a SQLite database" in message and "--db-url" in message
    assert path.read_bytes() == content  # nothing written


@pytest.mark.parametrize("url", ["mysql://user@localhost/redline", "oracle://x@y/z", "nonsense"])
def test_unsupported_database_urls(tmp_path: Path, url: str) -> None:
    message = rejected(cli("--db-url", url, "import", str(SAMPLE)))
    assert "sqlite:///" in message and "postgresql+psycopg://" in message


def _import_process(db_url: str, path: Path, *extra: str) -> subprocess.Popen[str]:
    code = "import sys; from redline.cli import main; sys.argv[0] = 'redline'; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--db-url", db_url, "import", *extra, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_imports_of_the_same_file_into_a_fresh_database(db_url: str, tmp_path: Path) -> None:
    """Both start before the schema exists; the second waits, then finds it all stored."""
    path = tmp_path / "synthetic.json"
    write_synthetic(path, 1500, 3)
    procs = [_import_process(db_url, path) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    summaries = sorted(out for out, _ in outputs)
    joined = " ".join(" ".join(s.split()) for s in summaries)
    assert "added 1500" in joined and "added 0" in joined and "1500 already stored" in joined
    assert row_counts(db_url)["attempt"] == 1500


def test_two_imports_of_different_files_at_once(db_url: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_synthetic(a, 1200, 1)
    write_synthetic(b, 1200, 2)
    # Two synthetic files are two datasets: their member ids are different people.
    procs = [_import_process(db_url, a), _import_process(db_url, b, "--source", "synthetic-b")]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    stored = row_counts(db_url)
    assert stored["attempt"] == 2400
    store = Store(db_url)
    with store.session() as session:  # each member id is one person per source
        numbers = session.scalars(select(Person.member_number)).all()
        keys = session.execute(select(Person.source, Person.source_member_id)).all()
    store.dispose()
    assert len(numbers) == len(set(numbers)) and len(keys) == len(set(keys))


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # PostgreSQL only
def test_postgresql_going_away_mid_import_writes_nothing(db_url: str, tmp_path: Path) -> None:
    """The server ends the import's connection after the first batch (what a server shutdown
    does to every client); the import fails with one line and nothing is committed."""
    path = tmp_path / "synthetic.json"
    write_synthetic(path, 2600, 4)  # two write batches: the failure lands between them
    store = Store(db_url)
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    database = make_url(db_url).database

    def kill_connections(done: int, total: int) -> None:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": database},
            )

    with pytest.raises(StoreError) as caught:
        import_file(store, path, progress=kill_connections)
    message = str(caught.value)
    assert "not imported" in message and "nothing of this command was committed" in message
    assert "server is running" in message
    assert "\n" not in message.strip()
    store.dispose()
    admin.dispose()
    assert row_counts(db_url) == {"attempt": 0, "turn": 0, "candidate": 0, "person": 0, "target": 0}
    # and the CLI turns it into exit 2 (the next import, on a live server, just works)
    assert CliRunner().invoke(app, ["--db-url", db_url, "import", str(SAMPLE)]).exit_code == 0


def _open_fresh_and_write(url: str, start: Any, errors: Any) -> None:
    """One racer: connect (the WAL switch runs at connect) and write, as an import does."""
    from redline.store.engine import make_engine

    start.wait()
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS race (a)")
            conn.exec_driver_sql("COMMIT")
        engine.dispose()
    except Exception as exc:  # reported to the test, which names it
        errors.put(f"{type(exc).__name__}: {exc}")


def test_racing_opens_of_a_fresh_sqlite_database_all_succeed(tmp_path: Path) -> None:
    """Two processes opening a fresh SQLite file at the same moment: SQLite answers the
    loser's switch to WAL with "database is locked" at once, skipping its busy wait (34 of
    400 racing opens failed before the retry). 40 races make a miss all but impossible."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    for round_ in range(40):
        url = f"sqlite:///{tmp_path / f'race{round_}.db'}"
        start = context.Event()
        racers = [
            context.Process(target=_open_fresh_and_write, args=(url, start, errors))
            for _ in range(2)
        ]
        for racer in racers:
            racer.start()
        start.set()
        for racer in racers:
            racer.join(timeout=60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert all(racer.exitcode == 0 for racer in racers)
