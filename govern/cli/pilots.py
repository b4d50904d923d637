"""`govern pilot`, for procurement, compliance and teams, against the service: where a sandbox's pilot stands
against its terms, and its one-page report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Optional
from urllib.parse import quote

import typer
from rich.table import Table

from govern.cli.common import ServerOption, client_errors, client_or_exit, command_group, settings_or_exit, write_json

pilot_app = command_group("Pilots on the service: progress against their terms, and the report for the people who fund them.")

SandboxArgument = Annotated[str, typer.Argument(help="The sandbox (the pilot's id), e.g. SBX-2026-014.")]


@pilot_app.command("status")
def pilot_status(
    sandbox_id: SandboxArgument,
    output: Annotated[Literal["table", "json"], typer.Option("--output", "-o", help="table (for people) or json (GET /v1/sandboxes/{id}/pilot).")] = "table",
    server: ServerOption = None,
) -> None:
    """Each criterion measured against its target, and the failure budget used, from the records."""
    with client_errors():
        _, progress = client_or_exit(settings_or_exit(), server).request("GET", f"/v1/sandboxes/{quote(sandbox_id, safe='')}/pilot")
    if output == "json":
        write_json(progress)
        return
    _print_status(progress)


@pilot_app.command("report")
def pilot_report(
    sandbox_id: SandboxArgument,
    report_format: Annotated[Literal["markdown", "html", "pdf"], typer.Option("--format", "-f")] = "markdown",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the report here instead of to standard output.")] = None,
    server: ServerOption = None,
) -> None:
    """The pilot's one-page report: every figure with its verdict and the records it came from."""
    with client_errors():
        report = client_or_exit(settings_or_exit(), server).download(
            f"/v1/sandboxes/{quote(sandbox_id, safe='')}/pilot/report", params={"format": report_format})
    if out is not None:
        out.write_bytes(report)
    else:
        sys.stdout.buffer.write(report)
        sys.stdout.flush()


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
