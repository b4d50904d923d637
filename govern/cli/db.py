"""`govern db`, for operators: apply the database migrations and show where the database stands."""

from __future__ import annotations

from typing import Annotated

import typer

from govern.cli.common import command_group, database_errors, database_or_exit

db_app = command_group("The service database: migrations.")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the database migrations (creates the database schema on first use)."""
    # lazy: start-up time (rich, alembic)
    from rich.console import Console

    from govern.db.database import current_revision, upgrade

    engine = database_or_exit()
    with database_errors(driver_message=True):
        upgrade(engine, revision)
        Console(highlight=False).print(f"database {engine.url.render_as_string()} at revision {current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision and the newest one govern knows."""
    # lazy: start-up time (rich, alembic)
    from rich.console import Console

    from govern.db.database import current_revision, head_revision

    engine = database_or_exit()
    with database_errors():
        Console(highlight=False).print(f"current: {current_revision(engine) or 'none'}, head: {head_revision(engine)}")
