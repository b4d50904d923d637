"""`govern db`, for operators: apply or undo the database migrations, print their SQL for review, and show
where the database stands."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from govern.cli.common import command_group, database_errors, database_or_exit, fail

db_app = command_group("The service database: migrations.")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; with --sql also FROM:TO (default: from base).")] = "head",
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the migration SQL for review instead of applying it; the database is not touched.")
    ] = False,
) -> None:
    """Apply the database migrations (creates the database schema on first use)."""
    # lazy: start-up time (rich, alembic)
    from alembic import command
    from alembic.util import CommandError
    from rich.console import Console

    from govern.db.database import alembic_config, current_revision, upgrade

    engine = database_or_exit()
    if sql:
        config = alembic_config(engine)
        config.output_buffer = sys.stdout
        try:
            command.upgrade(config, revision, sql=True)
        except CommandError as exc:
            raise fail(f"cannot render the migrations to {revision}: {exc}") from None
        return
    with database_errors(driver_message=True):
        upgrade(engine, revision)
        Console(highlight=False).print(f"database {engine.url.render_as_string()} at revision {current_revision(engine)}")


@db_app.command("downgrade")
def db_downgrade(
    to: Annotated[str, typer.Option("--to", help="Revision to step back to (`base` undoes every migration).")] = "-1",
) -> None:
    """Undo the newest applied migration, or every migration after --to. Data in what it drops is lost."""
    # lazy: start-up time (rich, alembic)
    from alembic import command
    from alembic.util import CommandError
    from rich.console import Console

    from govern.db.database import alembic_config, current_revision

    engine = database_or_exit()
    with database_errors(driver_message=True):
        if current_revision(engine) is None:
            raise fail("the database is already at base: there is no migration to undo")
        try:
            command.downgrade(alembic_config(engine), to)
        except CommandError as exc:
            raise fail(f"cannot downgrade to {to}: {exc}") from None
        Console(highlight=False).print(f"database {engine.url.render_as_string()} at revision {current_revision(engine) or 'base'}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision and the newest one govern knows."""
    # lazy: start-up time (rich, alembic)
    from rich.console import Console

    from govern.db.database import current_revision, head_revision

    engine = database_or_exit()
    with database_errors():
        Console(highlight=False).print(f"current: {current_revision(engine) or 'none'}, head: {head_revision(engine)}")
