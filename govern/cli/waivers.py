"""`govern waiver`, for teams and compliance, against the service: request a waiver of a rule, approve or
revoke it, list them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import typer

from govern.cli.common import ServerOption, call_service, command_group

waiver_app = command_group("Waivers on the service: request, approve, revoke, list.")


@waiver_app.command("request")
def waiver_request(
    rule: Annotated[str, typer.Option("--rule", help="The rule to waive, e.g. DC-004.")],
    team: Annotated[str, typer.Option("--team")],
    reason: Annotated[str, typer.Option("--reason")],
    expires: Annotated[datetime, typer.Option("--expires", help="When the waiver stops applying (RFC 3339 with offset).")],
    experiment: Annotated[str, typer.Option("--experiment", help="One experiment, or * for all the team's.")] = "*",
    sandbox: Annotated[Optional[str], typer.Option("--sandbox", help="Only for this sandbox.")] = None,
    server: ServerOption = None,
) -> None:
    """Request a waiver; compliance approves it (never the requester)."""
    body = {"rule": rule, "team": team, "reason": reason, "expires": expires.isoformat(), "experiment": experiment, "sandbox": sandbox}
    call_service(server, "POST", "/v1/waivers", json=body)


@waiver_app.command("approve")
def waiver_approve(waiver_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Approve a requested waiver (compliance)."""
    call_service(server, "POST", f"/v1/waivers/{waiver_id}/approve")


@waiver_app.command("revoke")
def waiver_revoke(waiver_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Revoke a waiver: it stops applying at once."""
    call_service(server, "POST", f"/v1/waivers/{waiver_id}/revoke")


@waiver_app.command("list")
def waiver_list(
    team: Annotated[Optional[str], typer.Option("--team", help="Only this team's; default: every team's, or a submitter's own.")] = None,
    server: ServerOption = None,
) -> None:
    """List waivers (compliance, admin: every team's; submitters: their own team's)."""
    call_service(server, "GET", "/v1/waivers", params={"team": team} if team else {})
