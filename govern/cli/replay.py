"""`govern audit replay DECISION_ID`: evaluate a recorded decision's input again on its recorded bundle
revision, from the database, and say whether the result is identical (exit 0) or how it differs (exit 1)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from govern.cli.audit import audit_app
from govern.cli.common import DATABASE_HINT, database_errors, database_or_exit, fail, settings_or_exit
from govern.exit_codes import EXIT_DENIED, EXIT_OK

if TYPE_CHECKING:
    from govern.audit.replay import Replay


class ReplayFormat(str, Enum):
    text = "text"
    json = "json"


@audit_app.command("replay")
def audit_replay(
    decision_id: Annotated[str, typer.Argument(help="The decision to replay (its decision_id).", show_default=False)],
    output_format: Annotated[ReplayFormat, typer.Option("--format", "-f", help="text or json.")] = ReplayFormat.text,
) -> None:
    """Replay a recorded decision on the bundle revision that made it: exit 0 when the outcome, rule ids and
    messages are identical, 1 when not (the difference shown), 2 for an unknown decision or a revision not kept."""
    # lazy: start-up time (sqlalchemy, the engines)
    from govern.audit.replay import ReplayError, embedded_engines, replay_decision
    from govern.db.database import reading, session_scope

    settings = settings_or_exit()
    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            try:
                result = replay_decision(session, decision_id, embedded_engines(settings))
            except ReplayError as exc:
                raise fail(str(exc)) from None
    if output_format is ReplayFormat.json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(replay_text(result))
    raise typer.Exit(EXIT_OK if result.identical else EXIT_DENIED)


def replay_text(result: Replay) -> str:
    head = f"decision {result.decision_id} (record {result.seq}, {result.kind}) on bundle revision {result.bundle_revision}"
    if result.identical:
        return f"{head}: replays identically ({result.recorded_outcome})\n"
    lines = [f"{head}: DIFFERS from the record"] + [f"  {d.describe()}" for d in result.differences]
    return "\n".join(lines) + "\n"
