"""Alembic environment: runs on the engine Redline hands over (no alembic.ini needed)."""

from alembic import context

from redline.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
    )
    context.run_migrations()
