"""Alembic environment: migrations run on the engine govern hands over (see govern.db.database.upgrade)."""

from alembic import context
from sqlmodel import SQLModel

import govern.db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
    context.run_migrations()
