"""Dispatched work over HTTP: a submission's jobs and result, cancellation, reproductions, one job by id."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from sqlmodel import Session

from govern.admission.reproductions import RateLimited, Reproduced, reproduce
from govern.api.deps import PolicyEngineDep, SessionDep, SettingsDep, TokenDep, require, sandbox_reader
from govern.api.refusals import refusals
from govern.api.schemas import JobList
from govern.db.public import JobPublic, ResultPublic, TokenPublic
from govern.dispatch import control, results
from govern.policy.engines import PolicyEngine
from govern.settings import Settings

router = APIRouter(prefix="/v1", tags=["dispatch"])


def _authorize(session: Session, engine: PolicyEngine, token: TokenPublic, submission_id: str, action: str) -> None:
    """404 for an unknown submission, then the authorization policy on its team."""
    submission = control.submission_row(session, submission_id)
    require(engine, token, action, {"team": submission.team})


@router.get("/submissions/{submission_id}/jobs", responses=refusals(403, 404))
def get_jobs(submission_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> JobList:
    """Every job of the submission, oldest first: the primary, a fallback, reproductions."""
    _authorize(session, engine, token, submission_id, "submission.read")
    return JobList(items=control.jobs_of(session, submission_id))


@router.get("/submissions/{submission_id}/result", responses=refusals(403, 404))
def get_result(submission_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> ResultPublic:
    """Counts, result hash, transpiled metrics, calibration snapshot and actual cost; 404 until it exists."""
    _authorize(session, engine, token, submission_id, "submission.read")
    return results.result_of(session, submission_id)


@router.post("/submissions/{submission_id}/cancel", status_code=status.HTTP_202_ACCEPTED, responses=refusals(403, 404, 409))
def post_cancel(submission_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> JobList:
    """Cancel the submission's unfinished work: a queued job at once, a running one by its worker."""
    return JobList(items=cancel_work(session, engine, token, submission_id))


def cancel_work(session: Session, engine: PolicyEngine, token: TokenPublic, submission_id: str) -> list[JobPublic]:
    """Cancel the submission's unfinished jobs for the token, committed (the API's and the console's one path)."""
    _authorize(session, engine, token, submission_id, "submission.cancel")
    jobs = control.cancel(session, submission_id)
    session.commit()
    return jobs


@router.post(
    "/submissions/{submission_id}/reproduce", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic,
    responses=refusals(403, 404, 409, 429),
)
def post_reproduce(
    submission_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep, settings: SettingsDep, request: Request
) -> JobPublic | JSONResponse:
    """Decide, record and queue a re-run of the finished simulator job with the same circuit, seeds and noise
    snapshot, billed to the run's sandbox as the original was; the job's `reproduced` says whether the
    result hash matched once it ends."""
    done = ask_reproduction(request, session, engine, token, settings, submission_id)
    if done.job is None:
        return JSONResponse({"detail": "denied by policy", "decision": done.decision.model_dump(mode="json")}, status.HTTP_403_FORBIDDEN)
    return done.job


def ask_reproduction(
    request: Request, session: Session, engine: PolicyEngine, token: TokenPublic, settings: Settings, submission_id: str
) -> Reproduced:
    """Decide, record and commit a reproduction for the token, waking the deliverer and (when queued) the
    worker; a 429 past the token's rate (the API's and the console's one path)."""
    _authorize(session, engine, token, submission_id, "submission.reproduce")
    try:
        done = reproduce(
            session, engine, submission_id, actor=str(token.id), settings=settings,
            limit=settings.reproduce_limit, window_s=settings.reproduce_window_s, may_see=sandbox_reader(engine, token),
        )
    except RateLimited as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), {"Retry-After": str(exc.retry_after_s)}) from None
    session.commit()
    request.app.state.metrics.observe_decision(done.decision, "reproduce")
    request.app.state.deliverer.wake()
    if done.job is not None and request.app.state.worker is not None:
        request.app.state.worker.wake()
    return done


@router.get("/jobs/{job_id}", responses=refusals(403, 404))
def get_job(job_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> JobPublic:
    job = control.get_job(session, job_id)
    _authorize(session, engine, token, job.submission_id, "submission.read")
    return control.job_public(job)
