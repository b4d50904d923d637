"""Alembic environment: migrations run on the engine govern hands over (see govern.db.database.upgrade).

Offline (`govern db upgrade --sql`) they are rendered as SQL for the engine's dialect, never connecting."""

from alembic import context
from sqlmodel import SQLModel

import govern.db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
if context.is_offline_mode():
    context.configure(
        url=engine.url, target_metadata=SQLModel.metadata, render_as_batch=True, literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
        context.run_migrations()
