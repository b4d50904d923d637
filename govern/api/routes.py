"""The service's routes: health, readiness, and the dry-run check (`POST /v1/check`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from govern import decision_log
from govern.api.deps import EngineDep, SessionDep, SettingsDep, TokenDep, require
from govern.check import Checker
from govern.decision import Decision
from govern.documents import Document
from govern.procurement import context_for
from govern.submission import submission_from_request

health = APIRouter(tags=["health"])
v1 = APIRouter(prefix="/v1")


class CheckRequest(BaseModel):
    """A submission to check: the manifest as JSON, and the circuit's OpenQASM when the manifest names a file."""

    model_config = ConfigDict(extra="forbid")

    manifest: dict[str, Any]
    circuit: str | None = None


class CheckResponse(BaseModel):
    outcome: str
    decision: Decision


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked)."""
    return {"status": "ok"}


@health.get("/readyz")
def readyz(request: Request, session: SessionDep, engine: EngineDep) -> dict[str, str]:
    """Ready when the database answers and a policy engine is loaded."""
    session.exec(text("SELECT 1"))
    if engine.name == "unavailable":
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no policy engine: every decision would be a deny")
    return {"status": "ready", "bundle": engine.bundle_revision}


@health.get("/metrics", tags=["health"])
def metrics(request: Request, token: TokenDep):
    """Prometheus metrics (any valid token; give the scraper one with `govern token create`)."""
    return request.app.state.metrics.exposition()


@v1.post("/check", tags=["decisions"])
def check(
    body: CheckRequest, token: TokenDep, engine: EngineDep, settings: SettingsDep, session: SessionDep, request: Request
) -> CheckResponse:
    """Decide a submission on the live context without dispatching anything (a dry run); the decision is still
    logged as evidence."""
    team = body.manifest.get("metadata", {}).get("team") if isinstance(body.manifest.get("metadata"), dict) else None
    require(engine, token, "check", {"team": team if isinstance(team, str) else ""})
    checker: Checker = request.app.state.checker
    submission = submission_from_request(Document("manifest", 0, body.manifest, {}), body.circuit, settings.max_circuit_bytes)
    live_context = context_for(session, submission.experiment)
    policy_input = checker.policy_input(submission, checker.profile(submission), live_context)
    decision = engine.evaluate(policy_input)
    decision_log.append(session, decision, policy_input, actor=str(token.id), kind="check")
    session.commit()
    request.app.state.metrics.observe_decision(decision, "check")
    return CheckResponse(outcome=decision.outcome.value, decision=decision)
