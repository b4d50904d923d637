"""`govern pilot`, for procurement, compliance and teams, against the service: where a sandbox's pilot stands
against its terms, its one-page report, and changes of its terms (proposed, then approved or rejected by
someone else)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Optional
from urllib.parse import quote

import typer
from rich.table import Table

from govern.cli.common import (
    ServerOption,
    call_service,
    client_errors,
    client_or_exit,
    command_group,
    settings_or_exit,
    write_json,
)
from govern.cli.sandboxes import read_pilot_terms

pilot_app = command_group("Pilots on the service: progress against their terms, the report for the people who fund them, changes of their terms.")

SandboxArgument = Annotated[str, typer.Argument(help="The sandbox (the pilot's id), e.g. SBX-2026-014.")]


@pilot_app.command("status")
def pilot_status(
    sandbox_id: SandboxArgument,
    output: Annotated[Literal["table", "json"], typer.Option("--output", "-o", help="table (for people) or json (GET /v1/sandboxes/{id}/pilot).")] = "table",
    server: ServerOption = None,
) -> None:
    """Each criterion measured against its target, and the failure budget used, from the records."""
    _show(server, _pilot_path(sandbox_id), output, _print_status)


@pilot_app.command("report")
def pilot_report(
    sandbox_id: SandboxArgument,
    report_format: Annotated[Literal["markdown", "html", "pdf"], typer.Option("--format", "-f")] = "markdown",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the report here instead of to standard output.")] = None,
    server: ServerOption = None,
) -> None:
    """The pilot's one-page report: every figure with its verdict and the records it came from."""
    with client_errors():
        report = client_or_exit(settings_or_exit(), server).download(_pilot_path(sandbox_id, "report"), params={"format": report_format})
    if out is not None:
        out.write_bytes(report)
    else:
        sys.stdout.buffer.write(report)
        sys.stdout.flush()


@pilot_app.command("amend")
def pilot_amend(
    sandbox_id: SandboxArgument,
    terms: Annotated[Path, typer.Option("--terms", help="The new pilot terms, a JSON file (all of them): objective, criteria, failureBudget.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the terms should change (at most 2,000 characters).")],
    server: ServerOption = None,
) -> None:
    """Propose new pilot terms; they replace the current ones only once someone else approves."""
    call_service(server, "POST", _pilot_path(sandbox_id, "amendments"), json={"terms": read_pilot_terms(terms), "reason": reason})


@pilot_app.command("amendments")
def pilot_amendments(
    sandbox_id: SandboxArgument,
    output: Annotated[Literal["table", "json"], typer.Option("--output", "-o", help="table (for people) or json (GET /v1/sandboxes/{id}/pilot/amendments).")] = "table",
    server: ServerOption = None,
) -> None:
    """Every proposed change of the pilot's terms, oldest first, with what became of it."""
    _show(server, _pilot_path(sandbox_id, "amendments"), output, _print_amendments)


AmendmentArgument = Annotated[str, typer.Argument(help="The amendment's id, e.g. AMD-0123456789ab (`govern pilot amendments SBX`).")]


@pilot_app.command("approve-amendment")
def pilot_approve_amendment(sandbox_id: SandboxArgument, amendment_id: AmendmentArgument, server: ServerOption = None) -> None:
    """Approve a pending change (procurement; never its proposer): the sandbox takes the new terms."""
    call_service(server, "POST", _pilot_path(sandbox_id, "amendments", amendment_id, "approve"))


@pilot_app.command("reject-amendment")
def pilot_reject_amendment(sandbox_id: SandboxArgument, amendment_id: AmendmentArgument, server: ServerOption = None) -> None:
    """Reject a pending change: the terms stay as they are."""
    call_service(server, "POST", _pilot_path(sandbox_id, "amendments", amendment_id, "reject"))


def _pilot_path(sandbox_id: str, *rest: str) -> str:
    """`/v1/sandboxes/{id}/pilot` and the paths below it, each part quoted."""
    return "/".join((f"/v1/sandboxes/{quote(sandbox_id, safe='')}/pilot", *(quote(part, safe="") for part in rest)))


def _show(server: str | None, path: str, output: str, print_table: Callable[[Any], None]) -> None:
    """The service's answer to GET `path`: as it came for `--output json`, else as a table for people."""
    with client_errors():
        _, answer = client_or_exit(settings_or_exit(), server).request("GET", path)
    if output == "json":
        write_json(answer)
    else:
        print_table(answer)


def _print_amendments(amendments: list[dict[str, Any]]) -> None:
    from rich.console import Console  # lazy: only the table needs it

    table = Table(title="pilot term changes")
    for column in ("id", "status", "proposed", "decided"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason")
    for amendment in amendments:
        decided = amendment["decidedAt"][:16] if amendment["decidedAt"] else "-"
        table.add_row(amendment["id"], amendment["status"], amendment["requestedAt"][:16], decided, amendment["reason"])
    Console().print(table)


def _print_status(progress: dict[str, Any]) -> None:
    from rich.console import Console  # lazy: only the table needs it

    console = Console()
    terms = progress.get("terms")
    console.print(f"pilot {progress['pilot_id']} ({progress['team']}, {progress['vendor']}): {progress['lifecycle']}", markup=False, highlight=False)
    if terms is None:
        console.print("approved without pilot terms: no criteria or failure budget", markup=False)
    else:
        console.print(f"objective: {terms['objective']}", markup=False, highlight=False)
    criteria = Table("criterion", "measured", "target", "verdict", "records", title="success criteria")
    for criterion in progress["criteria"]:
        verdict = "not measurable yet" if criterion["met"] is None else "met" if criterion["met"] else "not met"
        value = "-" if criterion["value"] is None else f"{criterion['value']:.4g}"
        target = f"{'≥' if criterion['direction'] == 'at_least' else '≤'} {criterion['target']:g}"
        criteria.add_row(criterion["name"], value, target, verdict, str(criterion["records"]["total"]))
    console.print(criteria)
    budget = progress.get("failure_budget")
    if budget is not None:
        limits = ", ".join(f"{use['limit']} {use['used']:.4g}/{use['allowed']:.4g} ({use['state']})" for use in budget["limits"])
        console.print(f"failure budget: {budget['state']}: {limits or 'no limit applies yet'}", markup=False)
    spend = progress["spend"]
    console.print(f"spend: {spend['spent']} {spend['currency']} spent, {spend['reserved']} reserved of {spend['budget']}", markup=False)
