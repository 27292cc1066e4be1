"""Rows per table of a store: what "nothing was written" is checked against."""

from __future__ import annotations

from sqlalchemy import func, select

from redline.store import Store
from redline.store.models import Attempt, Candidate, Person, Target, Turn

TABLES = (Attempt, Turn, Candidate, Person, Target)


def row_counts(db_url: str) -> dict[str, int]:
    """Rows of each conversation table in the database at ``db_url``."""
    store = Store(db_url)
    try:
        with store.session() as session:
            return {
                m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
                for m in TABLES
            }
    finally:
        store.dispose()
