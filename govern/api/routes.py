"""The service's routes: health, readiness, and the dry-run check (`POST /v1/check`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from govern.api.deps import EngineDep, SessionDep, SettingsDep, TokenDep, require, sandbox_reader
from govern.api.refusals import refusals
from govern.policy.decision import Decision
from govern.dispatch import control
from govern.manifest.documents import Document
from govern.lineage import outbox
from govern.lineage.facets import facet_schemas
from govern.submission import submission_from_request
from govern.admission.transaction import decide_on_live_context

health = APIRouter(tags=["health"])
v1 = APIRouter(prefix="/v1")
specs = APIRouter(tags=["lineage"])


class CheckRequest(BaseModel):
    """A submission to check: the manifest as JSON, and the circuit's OpenQASM when the manifest names a file."""

    model_config = ConfigDict(extra="forbid")

    manifest: dict[str, Any]
    circuit: str | None = None

    @property
    def team(self) -> str:
        """metadata.team as sent, for authorization before validation ("" when the manifest has none)."""
        metadata = self.manifest.get("metadata")
        team = metadata.get("team") if isinstance(metadata, dict) else None
        return team if isinstance(team, str) else ""


class CheckResponse(BaseModel):
    outcome: str
    decision: Decision


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked)."""
    return {"status": "ok"}


@health.get("/readyz", responses=refusals(503))
def readyz(session: SessionDep, engine: EngineDep) -> dict[str, str]:
    """Ready when the database answers and a policy engine is loaded."""
    session.exec(text("SELECT 1"))
    if engine.name == "unavailable":
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no policy engine: every decision would be a deny")
    return {"status": "ready", "bundle": engine.bundle_revision}


@health.get("/metrics", tags=["health"], response_class=PlainTextResponse)
def metrics(request: Request, token: TokenDep, session: SessionDep):
    """Prometheus metrics (any valid token; give the scraper one with `govern token create`)."""
    request.app.state.metrics.observe_lineage(outbox.backlog(session))
    request.app.state.metrics.observe_dispatch(control.job_counts(session), *control.reproducibility(session))
    return request.app.state.metrics.exposition()


@v1.post("/check", tags=["decisions"], responses=refusals(403))
def check(
    body: CheckRequest, token: TokenDep, engine: EngineDep, settings: SettingsDep, session: SessionDep, request: Request
) -> CheckResponse:
    """Decide a submission on the live context without dispatching anything (a dry run); the decision is still
    logged as evidence."""
    require(engine, token, "check", {"team": body.team})
    submission = submission_from_request(Document("manifest", 0, body.manifest, {}), body.circuit, settings.max_circuit_bytes)
    decision, _, policy_input = decide_on_live_context(
        session, request.app.state.checker, engine, submission, lock_sandbox=False, may_see=sandbox_reader(engine, token)
    )
    session.commit()  # the reads are done: give the connection back before waiting for the log
    request.app.state.decision_log.append(decision, policy_input, actor=str(token.id), kind="check")
    request.app.state.metrics.observe_decision(decision, "check")
    return CheckResponse(outcome=decision.outcome.value, decision=decision)


@v1.get("/lineage/outbox", tags=["lineage"], responses=refusals(403))
def lineage_outbox(token: TokenDep, engine: EngineDep, session: SessionDep) -> dict[str, Any]:
    """The lineage delivery backlog: pending, failing and delivered events, the oldest waiting, the last error."""
    require(engine, token, "lineage.read", {"team": "*"})
    return outbox.backlog(session).as_dict()


@specs.get(
    "/spec/facets/{version}/{name}.json",
    responses={200: {"content": {"application/schema+json": {"schema": {"type": "object"}}}}, **refusals(404)},
)
def facet_schema(version: str, name: str, request: Request) -> JSONResponse:
    """The JSON Schema of one of govern's custom OpenLineage facets, served at the path of its `$id`."""
    schema = {urlparse(schema_id).path: schema for schema_id, schema in facet_schemas().items()}.get(request.url.path)
    if schema is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no facet schema {version}/{name}.json")
    return JSONResponse(schema, media_type="application/schema+json")
