"""`POST /v1/check`: a dry run, deciding a submission on the live context and dispatching nothing."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from govern.admission.transaction import decide_on_live_context
from govern.api.deps import PolicyEngineDep, ReadSessionDep, SettingsDep, TokenDep, require, sandbox_reader
from govern.api.refusals import refusals
from govern.api.schemas import CheckRequest, CheckResponse
from govern.manifest.documents import Document
from govern.submission import submission_from_request

router = APIRouter(prefix="/v1")


@router.post("/check", tags=["decisions"], response_model=CheckResponse, responses=refusals(403))
def check(
    body: CheckRequest, token: TokenDep, engine: PolicyEngineDep, settings: SettingsDep, session: ReadSessionDep, request: Request
) -> Response:
    """Decide a submission on the live context without dispatching anything (a dry run); the decision is still
    logged as evidence."""
    require(engine, token, "check", {"team": body.team})
    submission = submission_from_request(Document("manifest", 0, body.manifest, {}), body.circuit, settings.max_circuit_bytes)
    decision, _, policy_input = decide_on_live_context(
        session, request.app.state.checker, engine, submission, lock_sandbox=False, may_see=sandbox_reader(engine, token)
    )
    session.close()  # the reads are done: give the connection back before waiting for the log
    request.app.state.decision_log.append(decision, policy_input, actor=str(token.id), kind="check")
    request.app.state.metrics.observe_decision(decision, "check")
    # Serialised once, by pydantic's own encoder: returning the model would have FastAPI validate it again first.
    return Response(CheckResponse(outcome=decision.outcome.value, decision=decision).model_dump_json(by_alias=True), media_type="application/json")
