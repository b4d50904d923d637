"""`/ui/sandboxes/{id}/pilot/report?format=markdown|html|pdf`: the pilot's one-page report, downloaded from
its sandbox's page with the session's cookie; the API's own report (govern.pilots.report), read as the
sandbox is, so a sandbox the session may not read is the console's 404."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from govern.api.deps import ReadSessionDep
from govern.api.routes.pilots import ReportFormat, get_pilot, report_response
from govern.console.deps import ConsoleRoute, SignedInDep
from govern.console.routes.sandboxes import SandboxId

router = APIRouter(prefix="/ui/sandboxes", route_class=ConsoleRoute)


@router.get("/{sandbox_id}/pilot/report", include_in_schema=False)
def report(request: Request, sandbox_id: SandboxId, signed_in: SignedInDep, session: ReadSessionDep,
           report_format: ReportFormat = "markdown") -> Response:
    progress = get_pilot(sandbox_id, signed_in.token, request.app.state.engine, session)
    return report_response(progress, report_format, "attachment")
