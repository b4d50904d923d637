"""`POST /v1/policy/impact` (compliance and admin): the body is a candidate bundle as a tar.gz
(govern.impact.candidate), replayed on the recorded decisions of the window the query gives; the answer is
the JSON impact report, its changed decisions linking to GET /v1/audit/decisions/{id}.

One run at a time per server process (a second gets 429): a run keeps evaluator processes busy for as long as
the window takes, and the service's own checks must keep theirs.
"""

from __future__ import annotations

import threading
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, status

from govern.api.bodies import RAW_BODY
from govern.api.deps import PolicyEngineDep, SettingsDep, TokenDep, require
from govern.api.params import Since, TeamFilter, Until
from govern.api.refusals import refusals
from govern.db.database import reading
from govern.impact.analysis import ImpactReport, Window, analyse
from govern.impact.candidate import candidate_from_archive
from govern.policy.bundle import BundleError
from govern.policy.engines import EngineError
from govern.policy.engines.embedded import RegorusEngine
from govern.settings import Settings

router = APIRouter(prefix="/v1/policy", tags=["policy"])

ARCHIVE_BODY = {
    "required": True,
    "description": "The candidate bundle as a gzip-compressed tar archive (`opa build`'s layout; team modules under `.custom/N/`).",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}
_RUNNING = threading.Lock()


@router.post("/impact", responses=refusals(403, 422, 429), openapi_extra={"requestBody": ARCHIVE_BODY})
def impact(
    request: Request,
    token: TokenDep,
    engine: PolicyEngineDep,
    settings: SettingsDep,
    since: Since = None,
    until: Until = None,
    team: TeamFilter = None,
    outcome: Literal["allowed", "warned", "denied"] | None = None,
) -> ImpactReport:
    """Replay the window's recorded decisions on the uploaded candidate bundle and report what would change
    (compliance and admin); 422 naming what is wrong with an unusable archive, 429 while another run is going."""
    require(engine, token, "policy.impact", {"team": team or ""})
    if not _RUNNING.acquire(blocking=False):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "an impact analysis is already running here; retry when it has finished",
                            {"Retry-After": "30"})
    try:
        return _run(request, settings, Window(since=since, until=until, team=team, outcome=outcome))
    finally:
        _RUNNING.release()


def _run(request: Request, settings: Settings, window: Window) -> ImpactReport:
    try:
        candidate = candidate_from_archive(request.scope.get(RAW_BODY, b""))
        candidate_engine = RegorusEngine(candidate, timeout_s=settings.evaluation_timeout_s, workers=settings.workers,
                                         memory_bytes=settings.evaluation_memory_mb << 20)
    except (BundleError, EngineError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"candidate bundle refused: {exc}") from None
    try:
        return analyse(reading(request.app.state.db), candidate_engine, window, candidate_manifest_revision=candidate.manifest_revision,
                       link_base=str(request.base_url))
    finally:
        candidate_engine.close()
