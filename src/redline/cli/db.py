"""``redline db``: schema management."""

from __future__ import annotations

import typer

from redline.cli.app import app, console, state

db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Create or migrate the database to the newest schema.

    Other commands do this by themselves; use it to prepare a PostgreSQL database.

    Example: redline --db-url postgresql+psycopg://redline@localhost/redline db upgrade
    """
    from redline.store.engine import current_revision, head_revision

    store = state(ctx).store
    console.print(f"database at revision {current_revision(store.engine)} (head {head_revision()})")
