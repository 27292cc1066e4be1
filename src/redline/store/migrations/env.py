"""Alembic environment: runs on the engine Redline hands over (no alembic.ini needed).

The migration runs under the store's write lock, and Alembic reads the current revision
only after the lock is held: two processes opening a fresh database at once both wait
their turn, and the second finds the schema already at head instead of creating it twice.
"""

from alembic import context

from redline.store.engine import lock_for_writing
from redline.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    lock_for_writing(connection)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        transactional_ddl=True,
    )
    context.run_migrations()
