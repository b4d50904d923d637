"""`govern sandbox`, for teams and procurement, against the service: request a procurement sandbox, approve,
reject or revoke it, list them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from govern.cli.common import ServerOption, call_service, command_group, fail

sandbox_app = command_group("Procurement sandboxes on the service: request, approve, reject, list.")


@sandbox_app.command("request")
def sandbox_request(
    sandbox_id: Annotated[str, typer.Option("--id", help="The sandbox id, e.g. SBX-2026-014.")],
    team: Annotated[str, typer.Option("--team")],
    vendor: Annotated[str, typer.Option("--vendor")],
    devices: Annotated[list[str], typer.Option("--device", help="A device the sandbox covers (repeat for more).")],
    start: Annotated[datetime, typer.Option("--start", help="Window start (RFC 3339 with offset).")],
    end: Annotated[datetime, typer.Option("--end", help="Window end; 6 to 12 weeks after the start.")],
    budget: Annotated[str, typer.Option("--budget", help="Budget, e.g. 25000.00.")],
    currency: Annotated[str, typer.Option("--currency")] = "USD",
    allows_confidential: Annotated[bool, typer.Option("--allows-confidential", help="Cleared for confidential data.")] = False,
    pilot: Annotated[Optional[Path], typer.Option("--pilot", help="Pilot terms, a JSON file: objective, criteria, failureBudget.")] = None,
    server: ServerOption = None,
) -> None:
    """Request a sandbox (6 to 12 weeks), with its pilot terms; someone other than the requester approves it."""
    body = {"id": sandbox_id, "team": team, "vendor": vendor, "devices": devices, "start": start.isoformat(),
            "end": end.isoformat(), "budget": budget, "currency": currency, "allowsConfidential": allows_confidential}
    if pilot is not None:
        body["pilot"] = read_pilot_terms(pilot)
    call_service(server, "POST", "/v1/sandboxes", json=body)


PILOT_FILE_MAX_BYTES = 64 * 1024


def read_pilot_terms(path: Path) -> Any:
    """The terms file's JSON, read only when small enough; the service validates what it says (`govern
    sandbox request --pilot`, `govern pilot amend --terms`)."""
    try:
        with path.open("rb") as terms:
            raw = terms.read(PILOT_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise fail(f"{path}: cannot read the pilot terms ({exc.strerror})") from None
    if len(raw) > PILOT_FILE_MAX_BYTES:
        raise fail(f"{path}: pilot terms are over {PILOT_FILE_MAX_BYTES // 1024} KiB")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
        raise fail(f"{path}: pilot terms are not JSON ({exc})") from None


@sandbox_app.command("approve")
def sandbox_approve(sandbox_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Approve a requested sandbox (procurement; never the requester)."""
    call_service(server, "POST", f"/v1/sandboxes/{sandbox_id}/approve")


@sandbox_app.command("reject")
def sandbox_reject(sandbox_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Reject a requested sandbox."""
    call_service(server, "POST", f"/v1/sandboxes/{sandbox_id}/reject")


@sandbox_app.command("revoke")
def sandbox_revoke(sandbox_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Revoke a sandbox (procurement): submissions billed to it are denied from now on."""
    call_service(server, "POST", f"/v1/sandboxes/{sandbox_id}/revoke")


@sandbox_app.command("list")
def sandbox_list(
    team: Annotated[Optional[str], typer.Option("--team", help="Only this team's; default: every team's, or a submitter's own.")] = None,
    server: ServerOption = None,
) -> None:
    """List sandboxes (procurement, compliance, admin: every team's; submitters: their own team's)."""
    call_service(server, "GET", "/v1/sandboxes", params={"team": team} if team else {})
