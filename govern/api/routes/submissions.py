"""Submissions over HTTP: `POST /v1/submissions` (201 allowed, 403 denied, both recorded; Idempotency-Key
makes retries safe), `GET /v1/submissions/{id}`, and `GET /v1/submissions` with filters and a cursor."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError

from govern.admission.queries import decision_of, get_submission, list_submissions
from govern.admission.transaction import Submitted, find_by_key, replay, request_hash, submit
from govern.api.deps import (
    PolicyEngineDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    TokenDep,
    listed_team,
    require,
    sandbox_reader,
)
from govern.api.params import Cursor, Since, TeamFilter, Until
from govern.api.refusals import refusals
from govern.api.schemas import CheckRequest, DeniedSubmission, ErrorPublic, SubmissionPage, SubmissionResponse

router = APIRouter(prefix="/v1/submissions", tags=["submissions"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubmissionResponse,
             responses=refusals(403, 409, 422, models={403: DeniedSubmission | ErrorPublic}))
def post_submission(
    body: CheckRequest, request: Request, token: TokenDep, engine: PolicyEngineDep, session: SessionDep, reader: ReadSessionDep,
    settings: SettingsDep, idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Decide and record a submission; an allowed one gets a queued dispatch job and a budget reservation."""
    require(engine, token, "submission.create", {"team": body.team})
    actor = str(token.id)
    try:
        result = submit(
            session, request.app.state.checker, engine, body.manifest, body.circuit,
            actor=actor, idempotency_key=idempotency_key, max_circuit_bytes=settings.max_circuit_bytes,
            bundle_data=request.app.state.bundle.data if request.app.state.bundle else {},
            may_see=sandbox_reader(engine, token), reader=reader,
        )
        session.commit()
    except IntegrityError:
        session.rollback()  # a concurrent retry with the same key won the race: answer as it did
        earlier = find_by_key(session, actor, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        result = replay(session, earlier, request_hash(body.manifest, body.circuit))
    if not result.replayed:
        request.app.state.metrics.observe_decision(result.decision, "submission")
        request.app.state.deliverer.wake()
        if result.decision.allow and request.app.state.worker is not None:
            request.app.state.worker.wake()
    return _respond(result)


def _respond(result: Submitted) -> Response:
    """Serialised once, by pydantic's own encoder; a denial is the same document with its `detail` first."""
    if result.submission.outcome == "denied":
        denied = DeniedSubmission(detail="denied by policy", submission=result.submission, decision=result.decision)
        return Response(denied.model_dump_json(), status.HTTP_403_FORBIDDEN, media_type="application/json")
    accepted = SubmissionResponse(submission=result.submission, decision=result.decision)
    return Response(accepted.model_dump_json(), status.HTTP_201_CREATED, media_type="application/json")


@router.get("/{submission_id}", responses=refusals(403, 404))
def read_submission(submission_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> SubmissionResponse:
    submission = get_submission(session, submission_id)
    if submission is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no submission {submission_id!r}")
    require(engine, token, "submission.read", {"team": submission.team})
    return SubmissionResponse(submission=submission, decision=decision_of(session, submission.decision_id))


@router.get("", responses=refusals(403))
def search_submissions(
    token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    team: TeamFilter = None,
    outcome: Literal["allowed", "warned", "denied"] | None = None,
    rule: Annotated[str | None, Query(pattern=r"^[A-Z]+-\d+$")] = None,
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SubmissionPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page. Without `team`: every team's for
    compliance and admin, the caller's own team's otherwise."""
    items, next_cursor = list_submissions(
        session, team=listed_team(engine, token, "submission.read", team), outcome=outcome, rule=rule, since=since, until=until, after=cursor, limit=limit
    )
    return SubmissionPage(items=items, next_cursor=next_cursor)
