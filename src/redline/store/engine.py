"""Engine, sessions and schema upgrades.

SQLite gets WAL (readers never block the writer), foreign keys and a busy timeout; a
PostgreSQL URL (``postgresql+psycopg://...``) runs the same code. Every command calls
:func:`open_store`, which brings a fresh or old database to the newest schema first.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from redline.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    _switch_to_wal(cur)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _switch_to_wal(cur: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the lock.

    Why: when two processes open a fresh database at once (two imports, two first
    starts), SQLite answers the loser's switch with "database is locked" at once, without
    its busy wait (measured: 34 of 400 racing opens). The winner's lock lasts at most as
    long as a writer may hold it, so retry for up to :data:`WRITE_LOCK_WAIT_MS`. A
    database already in WAL mode takes no lock and returns at the first try.
    """
    deadline = time.monotonic() + WRITE_LOCK_WAIT_MS / 1000
    delay = 0.002
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# Any 64-bit key: serialises imports and migrations of one PostgreSQL database.
_PG_WRITE_LOCK = 0x5245444C494E45  # "REDLINE"
# How long an import or a migration waits for another one to finish (milliseconds).
WRITE_LOCK_WAIT_MS = 15 * 60 * 1000


def make_engine(url: str) -> Engine:
    """Create an engine; creates the SQLite file's folder if needed.

    Only SQLite and PostgreSQL are supported: the migrations, the JSON columns and the
    write lock are written and tested for those two, so another scheme is refused here
    rather than failing later with a driver import error.
    """
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend not in SUPPORTED_BACKENDS:
            raise StoreError(
                f"database URL {make_url_safe(url)!r}: {backend!r} databases are not "
                "supported; use sqlite:///path.db or postgresql+psycopg://user:pass@host:port/db"
            )
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"database URL {make_url_safe(url)!r} is not valid; use sqlite:///path.db "
            "or postgresql+psycopg://user:pass@host:port/db"
        ) from exc


def make_url_safe(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


#: The newest migration's revision. Opening a store reads the database's revision with one
#: query and, when it is this one, never loads Alembic (about a third of a second at the
#: start of every command); tests/store/test_schema.py checks that it is Alembic's head.
HEAD_REVISION = "0003"


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest revision among the migration scripts (Alembic reads them all)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision; None for a database Redline never wrote."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://")))
    return {rev.revision for rev in script.walk_revisions()}


def lock_for_writing(conn: Connection) -> None:
    """Take the store's write lock for the rest of ``conn``'s transaction.

    Why: two imports (or two first starts migrating a fresh database) must not interleave;
    the second waits for the first to commit, then sees its rows. SQLite: ``BEGIN
    IMMEDIATE`` takes the database's single write lock, waiting up to
    :data:`WRITE_LOCK_WAIT_MS`. PostgreSQL: a transaction-scoped advisory lock. Call it
    first thing in the transaction, before any read whose result the writer relies on.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA busy_timeout={WRITE_LOCK_WAIT_MS}")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            conn.exec_driver_sql("PRAGMA busy_timeout=10000")
    else:
        conn.execute(text(f"SET LOCAL lock_timeout = {WRITE_LOCK_WAIT_MS}"))
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_WRITE_LOCK})


def describe_db_error(exc: DBAPIError, url: str) -> str:
    """One line for a database failure: what happened, where, and what to try."""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    where = make_url_safe(url)
    lowered = detail.lower()
    if "file is not a database" in lowered or "file is encrypted" in lowered:
        return (
            f"{where} is not a SQLite database ({detail}); point REDLINE_DB_URL or "
            "--db-url at a Redline database, or at a new file to create one"
        )
    if "database is locked" in lowered or "lock timeout" in lowered:
        return (
            f"the database at {where} stayed locked by another writer (an import?) for "
            f"{WRITE_LOCK_WAIT_MS // 60000} minutes; wait for it to finish and run again"
        )
    return (
        f"the database at {where} failed: {detail}; check REDLINE_DB_URL and that the "
        "server is running, then run again (nothing of this command was committed)"
    )


def upgrade(engine: Engine) -> None:
    """Run Alembic migrations up to head (a no-op when already there).

    A database stamped with a revision this Redline does not know was written by a newer
    Redline: it is refused, not downgraded or half-migrated.
    """
    url = str(engine.url)
    try:
        current = current_revision(engine)
    except DBAPIError as exc:
        raise StoreError(describe_db_error(exc, url)) from exc
    if current == HEAD_REVISION:
        return
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        head = head_revision()
        if current is not None and current not in known_revisions():
            raise StoreError(
                f"the database at {make_url_safe(url)} is at schema revision {current!r}, "
                f"newer than this Redline knows (it expects {head!r}); upgrade Redline "
                "(pip install -U redline) or use another database"
            )
        command.upgrade(_alembic_config(engine), "head")
    except DBAPIError as exc:
        raise StoreError(describe_db_error(exc, url)) from exc
    except CommandError as exc:
        raise StoreError(
            f"cannot migrate the database at {make_url_safe(url)}: {exc}; "
            "run `redline doctor` to see its schema revision"
        ) from exc


class Store:
    """An upgraded database plus a session factory. One per process is enough."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back entirely."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> Store:
    return Store(url)
