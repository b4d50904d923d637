"""What probes and scrapers call: liveness, readiness and the Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from govern.api.deps import PolicyEngineDep, SessionDep, TokenDep
from govern.api.metrics import ServiceMetrics
from govern.api.refusals import refusals
from govern.dispatch import control
from govern.lineage import outbox

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked)."""
    return {"status": "ok"}


@router.get("/readyz", responses=refusals(503))
def readyz(session: SessionDep, engine: PolicyEngineDep) -> dict[str, str]:
    """Ready when the database answers with the schema this version needs (the session dependency answers
    503 `not ready: schema at revision X, this version needs Y; …` before) and a policy engine is loaded."""
    session.connection().execute(text("SELECT 1"))
    if engine.name == "unavailable":
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no policy engine: every decision would be a deny")
    return {"status": "ready", "bundle": engine.bundle_revision}


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse)
def metrics(request: Request, token: TokenDep, session: SessionDep) -> Response:
    """Prometheus metrics (any valid token; give the scraper one with `govern token create`)."""
    service: ServiceMetrics = request.app.state.metrics
    service.observe_bundle(request.app.state.engine.bundle_revision, request.app.state.engine.name)
    service.observe_lineage(outbox.backlog(session))
    service.observe_dispatch(control.job_counts(session), *control.reproducibility(session))
    return service.exposition()
