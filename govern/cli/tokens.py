"""`govern token`, for administrators: create, list and revoke the service's API tokens, in its database."""

from __future__ import annotations

import sys
import uuid
from typing import Annotated, Optional

import typer

from govern.cli.common import DATABASE_HINT, command_group, database_errors, database_or_exit, fail, stderr_console

token_app = command_group("API tokens for the service: create, list, revoke.")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help="submitter, procurement, compliance, admin, producer (sends lineage events), or service (a govern service sending its own).")],
    team: Annotated[str, typer.Option("--team", help="The team the token acts for.")],
    name: Annotated[str, typer.Option("--name", help="A label to recognise the token by.")] = "token",
) -> None:
    """Create an API token and print it once; only its hash is stored."""
    # lazy: start-up time (pydantic, sqlalchemy)
    from pydantic import ValidationError

    from govern.db.database import session_scope
    from govern.db.public import TokenCreate
    from govern.records.tokens import create_token

    try:
        request = TokenCreate(role=role, team=team, name=name)
    except ValidationError as exc:
        raise fail("; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
    with database_errors(hint=DATABASE_HINT):
        with session_scope(database_or_exit()) as session:
            token, secret = create_token(session, request)
    stderr_console().print(f"token {token.id} ({token.role.value}, team {token.team}); it is shown only now:", markup=False)
    sys.stdout.write(secret + "\n")


@token_app.command("list")
def token_list(team: Annotated[Optional[str], typer.Option("--team", help="Only this team's tokens.")] = None) -> None:
    """List tokens (never their secrets)."""
    # lazy: start-up time (rich, sqlalchemy)
    from rich.console import Console
    from rich.table import Table

    from govern.db.database import session_scope
    from govern.records.tokens import list_tokens

    with database_errors(hint=DATABASE_HINT):
        with session_scope(database_or_exit()) as session:
            tokens = list_tokens(session, team)
    table = Table()
    for column in ("id", "name", "role", "team", "prefix", "created", "revoked"):
        table.add_column(column, overflow="fold")
    for token in tokens:
        table.add_row(
            str(token.id), token.name, token.role.value, token.team, token.prefix,
            token.created_at.isoformat(timespec="seconds"),
            token.revoked_at.isoformat(timespec="seconds") if token.revoked_at else "-",
        )
    Console(width=160).print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's id (from `govern token list`).")]) -> None:
    """Revoke a token: it stops authenticating at once."""
    # lazy: start-up time (rich, sqlalchemy)
    from rich.console import Console

    from govern.db.database import session_scope
    from govern.records.tokens import revoke_token

    try:
        parsed = uuid.UUID(token_id)
    except ValueError:
        raise fail(f"{token_id!r} is not a token id") from None
    with database_errors(hint=DATABASE_HINT):
        with session_scope(database_or_exit()) as session:
            token = revoke_token(session, parsed)
    if token is None:
        raise fail(f"no token with id {token_id}")
    Console(highlight=False).print(f"revoked {token.id} ({token.name})")
