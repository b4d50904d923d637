"""`/ui/submissions`: submissions newest first by cursor, filtered as `GET /v1/submissions` filters them;
`/ui/submissions/{id}`: one submission's state, its jobs with their times, and its result (counts as a
histogram, the transpiled metrics, the result hash), with cancel and reproduce where the policy allows;
`/ui/submissions/{id}/evidence`: its evidence pack. Every read and action calls what the API routes call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from govern.admission.queries import decision_of, get_submission, list_submissions
from govern.api.deps import ReadSessionDep, SessionDep, authorization, listed_team, require
from govern.api.routes.audit import ActorNames
from govern.api.routes.dispatch import ask_reproduction, cancel_work
from govern.api.routes.evidence import evidence_pack
from govern.api.schemas import SubmissionPage
from govern.console.deps import CheckedFormDep, ConsoleRoute, SignedInDep
from govern.console.params import CursorQuery, OutcomeQuery, PageSize, RuleIdQuery, SinceQuery, TeamQuery, UntilQuery
from govern.console.templating import render
from govern.db.public import JobPublic, ResultPublic
from govern.db.tables import JobStatus
from govern.dispatch import control, results
from govern.dispatch.jobs import DISPATCH_KINDS
from govern.dispatch.queue import FINAL
from govern.policy.engines import PolicyEngine
from govern.records.errors import RecordError

router = APIRouter(prefix="/ui/submissions", route_class=ConsoleRoute)

SubmissionId = Annotated[str, Path(min_length=1, max_length=36)]
MAX_JOBS_SHOWN = 100
"""Jobs listed on a submission's page: its primary, a fallback and reproductions (each rate-limited)."""
MAX_BARS = 64
"""Outcomes drawn in the histogram: the most frequent ones; the rest are summed in one line."""
MAX_METRICS = 50
DONE = {"cancel": "Cancellation requested: a queued job is cancelled now, a running one by its worker.",
        "reproduce": "Reproduction queued: once it has run, its job says whether the result hash matched."}


@router.get("", include_in_schema=False)
def submissions(
    request: Request, signed_in: SignedInDep, session: ReadSessionDep,
    team: TeamQuery = None, outcome: OutcomeQuery = None, rule: RuleIdQuery = None,
    since: SinceQuery = None, until: UntilQuery = None, cursor: CursorQuery = None, limit: PageSize = 50,
) -> HTMLResponse:
    shown_team = listed_team(request.app.state.engine, signed_in.token, "submission.read", team)
    items, next_cursor = list_submissions(
        session, team=shown_team, outcome=outcome, rule=rule, since=since, until=until, after=cursor, limit=limit
    )
    asked = {"team": team or "", "outcome": outcome or "", "rule": rule or "",
             "since": request.query_params.get("since", ""), "until": request.query_params.get("until", ""), "limit": limit}
    return render(request, "submissions.html", page=SubmissionPage(items=items, next_cursor=next_cursor), asked=asked, listed_team=shown_team)


@dataclass(frozen=True)
class Bar:
    outcome: str
    count: int
    share: float


@dataclass(frozen=True)
class Histogram:
    """The counts as bars: the `MAX_BARS` most frequent outcomes in bit-string order, scaled to the tallest."""

    bars: list[Bar]
    shots: int
    tallest: int
    others: int
    other_shots: int


def histogram(counts: dict[str, int]) -> Histogram:
    shots = sum(counts.values())
    frequent = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_BARS]
    shown = sum(count for _, count in frequent)
    bars = [Bar(outcome, count, count / shots if shots else 0.0) for outcome, count in sorted(frequent)]
    return Histogram(bars, shots, max((bar.count for bar in bars), default=0), len(counts) - len(bars), shots - shown)


def _result(session: Session, submission_id: str) -> tuple[ResultPublic | None, str]:
    """The dispatch's result, or why there is none yet."""
    try:
        return results.result_of(session, submission_id), ""
    except RecordError as exc:
        return None, str(exc)


def _links(jobs: list[JobPublic]) -> dict[str, list[JobPublic]]:
    """Each job's fallbacks and reproductions, so an original links to what stands in for or repeats it."""
    children: dict[str, list[JobPublic]] = {}
    for job in jobs:
        if job.parent_job_id:
            children.setdefault(job.parent_job_id, []).append(job)
    return children


@router.get("/{submission_id}", include_in_schema=False)
def submission(
    request: Request, submission_id: SubmissionId, signed_in: SignedInDep, session: ReadSessionDep,
    done: Annotated[Literal["cancel", "reproduce"] | None, Query()] = None,
) -> HTMLResponse:
    engine: PolicyEngine = request.app.state.engine
    found = get_submission(session, submission_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no submission {submission_id!r}")
    require(engine, signed_in.token, "submission.read", {"team": found.team})
    jobs = control.jobs_of(session, submission_id, limit=MAX_JOBS_SHOWN + 1)
    result, no_result = _result(session, submission_id)
    may = {action: authorization(engine, signed_in.token, action, {"team": found.team}).allow
           for action in ("submission.cancel", "submission.reproduce", "audit.read", "decision.read")}
    return render(
        request, "submission.html", submission=found, decision=decision_of(session, found.decision_id),
        created_by=ActorNames(session)(found.created_by) or found.created_by,
        jobs=jobs[:MAX_JOBS_SHOWN], more_jobs=len(jobs) > MAX_JOBS_SHOWN, children=_links(jobs), result=result, no_result=no_result,
        histogram=histogram(result.counts) if result else None,
        metrics=list(result.transpiled.items())[:MAX_METRICS] if result else [],
        unfinished=any(job.status not in FINAL for job in jobs),
        finished_run=any(job.kind in DISPATCH_KINDS and job.status == JobStatus.SUCCEEDED.value for job in jobs),
        may=may, done=DONE.get(done or ""),
    )


@router.post("/{submission_id}/cancel", include_in_schema=False)
def cancel(request: Request, submission_id: SubmissionId, signed_in: SignedInDep, _: CheckedFormDep, session: SessionDep) -> Response:
    cancel_work(session, request.app.state.engine, signed_in.token, submission_id)
    return RedirectResponse(f"/ui/submissions/{submission_id}?done=cancel", status.HTTP_303_SEE_OTHER)


@router.post("/{submission_id}/reproduce", include_in_schema=False)
def reproduce(request: Request, submission_id: SubmissionId, signed_in: SignedInDep, _: CheckedFormDep, session: SessionDep) -> Response:
    """A queued reproduction shows on the submission's page; one the policy denied, on its decision's page."""
    done = ask_reproduction(request, session, request.app.state.engine, signed_in.token, request.app.state.settings, submission_id)
    if done.job is None:
        return RedirectResponse(f"/ui/decisions/{done.decision.decision_id}", status.HTTP_303_SEE_OTHER)
    return RedirectResponse(f"/ui/submissions/{submission_id}?done=reproduce#job-{done.job.id}", status.HTTP_303_SEE_OTHER)


@router.get("/{submission_id}/evidence", include_in_schema=False)
def evidence(request: Request, submission_id: SubmissionId, signed_in: SignedInDep, session: SessionDep) -> Response:
    """The evidence pack as `GET /v1/submissions/{id}/evidence` answers it, for `audit.read`."""
    return evidence_pack(session, request.app.state.engine, signed_in.token, request.app.state.settings, submission_id, request.app.state.log_tree)
