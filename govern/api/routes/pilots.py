"""A sandbox's pilot over HTTP: its progress against its terms, and the one-page report of it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from govern.api.deps import PolicyEngineDep, ReadSessionDep, TokenDep
from govern.api.refusals import refusals
from govern.api.routes.procurement import get_one_sandbox
from govern.db.tables import utcnow
from govern.pilots.progress import pilot_progress
from govern.pilots.report import FORMATS
from govern.pilots.schema import PilotProgress

router = APIRouter(prefix="/v1/sandboxes", tags=["pilots"])

SUFFIXES = {"markdown": "md", "html": "html", "pdf": "pdf"}
ReportFormat = Annotated[Literal["markdown", "html", "pdf"], Query(alias="format")]


@router.get("/{sandbox_id}/pilot", responses=refusals(403, 404))
def get_pilot(sandbox_id: str, token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep) -> PilotProgress:
    """The pilot's terms and its progress, worked out from the records at request time: each criterion
    measured against its target, spend against budget, failures against the failure budget, reproducibility,
    queue wait, availability, and the decisions and waivers involved, each with the ids of its records. Read
    as the sandbox is: one the token may not read is answered as one that does not exist."""
    sandbox = get_one_sandbox(sandbox_id, token, engine, session)
    progress = pilot_progress(session, sandbox.id, utcnow())
    if progress is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sandbox {sandbox_id!r}")
    return progress


@router.get(
    "/{sandbox_id}/pilot/report", response_class=Response, responses={
        200: {"content": {media: {"schema": {"type": "string"}} for media, _ in FORMATS.values()}}, **refusals(403, 404, 422)},
)
def get_pilot_report(sandbox_id: str, token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep,
                     report_format: ReportFormat = "markdown") -> Response:
    """The pilot's one-page report for the people who fund it, as Markdown, HTML or PDF: every figure
    with a verdict and links to the records it came from."""
    return report_response(get_pilot(sandbox_id, token, engine, session), report_format, "inline")


def report_response(progress: PilotProgress, report_format: str, disposition: Literal["inline", "attachment"]) -> Response:
    """The report in `report_format`, named pilot-<id>.<suffix> (the console downloads it as an attachment)."""
    media_type, render = FORMATS[report_format]
    filename = f"pilot-{progress.pilot_id}.{SUFFIXES[report_format]}"  # sandbox ids are [A-Za-z0-9._-]
    return Response(render(progress), media_type=media_type, headers={"Content-Disposition": f'{disposition}; filename="{filename}"'})
