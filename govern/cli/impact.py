"""`govern policy impact`: what a candidate bundle would have decided differently on the recorded decisions,
from the local database or (`--server`) in the service, as text, JSON or a pull-request comment in Markdown;
`--fail-on-change` makes it a CI step of a policy repository."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from govern.cli.common import (
    DATABASE_HINT,
    BundleOption,
    PolicyOption,
    bundle_or_exit,
    client_errors,
    client_or_exit,
    database_errors,
    database_or_exit,
    fail,
    settings_or_exit,
    stderr_console,
)
from govern.cli.policy import policy_app
from govern.exit_codes import EXIT_DENIED, EXIT_OK

if TYPE_CHECKING:
    from govern.impact.analysis import ImpactReport, Progress, Window
    from govern.policy.bundle import PolicyBundle
    from govern.settings import Settings

SERVER_TIMEOUT_S = 3600.0
"""How long to wait for the service's answer: a long window takes minutes."""


class ImpactFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class RecordedOutcome(str, Enum):
    allowed = "allowed"
    warned = "warned"
    denied = "denied"


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise fail(f"{option} {value!r} is not an RFC 3339 time (2026-12-01T00:00:00Z)") from None


@policy_app.command("impact")
def policy_impact(
    bundle: BundleOption = None,
    policy: PolicyOption = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Only decisions recorded at or after this time (RFC 3339).")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Only decisions recorded before this time (RFC 3339).")] = None,
    team: Annotated[Optional[str], typer.Option("--team", help="Only this team's decisions.")] = None,
    outcome: Annotated[Optional[RecordedOutcome], typer.Option("--outcome", help="Only decisions recorded with this outcome.")] = None,
    output_format: Annotated[ImpactFormat, typer.Option("--format", "-f", help="text, json or markdown (a pull-request comment).")] = ImpactFormat.text,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report here instead of stdout.")] = None,
    fail_on_change: Annotated[bool, typer.Option("--fail-on-change", help="Exit 1 when any recorded decision would change.")] = False,
    server: Annotated[Optional[str], typer.Option("--server", help="Run it in this govern service (POST /v1/policy/impact) instead of on the local database.")] = None,
) -> None:
    """Replay every recorded decision in the window on the candidate bundle (same --bundle and --policy as
    `govern check`) and report what would change: counts, the rules that flip, the teams and sandboxes
    affected, the changed decisions. Exit 1 with --fail-on-change when something changes."""
    from govern.impact.analysis import Window  # lazy: start-up time (pydantic, sqlalchemy)
    from govern.impact.formats import FORMATS

    window = Window(since=_moment(since, "--since"), until=_moment(until, "--until"), team=team,
                    outcome=outcome.value if outcome else None)
    candidate = bundle_or_exit(bundle, policy)
    settings = settings_or_exit(policy_dirs=policy)
    report = _in_service(settings, server, candidate, window) if server else _local(settings, candidate, window)
    rendered = FORMATS[output_format.value](report)
    if output is None:
        sys.stdout.write(rendered)
    else:
        try:
            output.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror or exc.__class__.__name__}") from None
    raise typer.Exit(EXIT_DENIED if fail_on_change and report.changed else EXIT_OK)


def _local(settings: Settings, candidate: PolicyBundle, window: Window) -> ImpactReport:
    # lazy: start-up time (sqlalchemy, the engines)
    from govern.db.database import reading
    from govern.impact.analysis import analyse
    from govern.policy.engines import EngineError
    from govern.policy.engines.embedded import RegorusEngine

    try:
        engine = RegorusEngine(candidate, timeout_s=settings.evaluation_timeout_s, workers=settings.workers,
                               memory_bytes=settings.evaluation_memory_mb << 20)
    except EngineError as exc:
        raise fail(str(exc)) from None
    try:
        with database_errors(hint=DATABASE_HINT), _progress() as progress:
            return analyse(reading(database_or_exit()), engine, window, candidate_manifest_revision=candidate.manifest_revision,
                           link_base=settings.server or "", progress=progress)
    finally:
        engine.close()


def _in_service(settings: Settings, server: str | None, candidate: PolicyBundle, window: Window) -> ImpactReport:
    from govern.impact.analysis import ImpactReport  # lazy: start-up time (pydantic)
    from govern.impact.candidate import candidate_archive

    params = {k: v for k, v in window.model_dump(mode="json").items() if v is not None}
    with client_errors():
        _, body = client_or_exit(settings, server).request(
            "POST", "/v1/policy/impact", params=params, content=candidate_archive(candidate),
            headers={"Content-Type": "application/octet-stream"}, timeout=SERVER_TIMEOUT_S,
        )
    return ImpactReport.model_validate(body)


@contextmanager
def _progress() -> Iterator[Progress | None]:
    """A rich progress bar on stderr while records are replayed, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress as Bar  # lazy: start-up time (rich)

    with Bar(console=stderr_console(), transient=True) as bar:
        task = bar.add_task("replaying recorded decisions", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
