"""What the service does with dispatched work: show jobs, cancel, and ask for a reproduction (results are
read in govern.dispatch.results).

A queued job nobody holds is cancelled at once; one a worker holds is flagged, and its worker cancels it
at the vendor and ends it. A reproduction is a job of its own (its own lineage run, a child of the
original) that re-runs a finished simulator job with the same circuit, seeds and noise snapshot; the
worker compares the result hashes and stores whether they matched. Whether one may be queued is decided
in govern.admission.reproductions.
"""

from __future__ import annotations

from decimal import Decimal

from openlineage.client.event_v2 import RunState
from sqlalchemy import func
from sqlmodel import Session, col, select

from govern.backends.base import BackendError
from govern.backends.registry import get_backend
from govern.db.public import JobPublic
from govern.db.tables import JobRecord, JobStatus, SubmissionRecord, utcnow
from govern.dispatch.announcements import announce
from govern.dispatch.costs import settle
from govern.dispatch.jobs import DISPATCH_KINDS, JobKind, child_job
from govern.dispatch.queue import FINAL
from govern.lineage import outbox, run_events
from govern.policy.decision import Decision
from govern.records.errors import RecordError, as_utc
from govern.settings import Settings


def job_public(job: JobRecord) -> JobPublic:
    times = {name: as_utc(value) if value else None for name, value in
             (("created_at", job.created_at), ("started_at", job.started_at), ("finished_at", job.finished_at))}
    return JobPublic.model_validate({**job.model_dump(), **times})


def submission_row(session: Session, submission_id: str) -> SubmissionRecord:
    row = session.exec(select(SubmissionRecord).where(SubmissionRecord.id == submission_id)).first()
    if row is None:
        raise RecordError(f"no submission {submission_id}", 404)
    return row


def jobs_of(session: Session, submission_id: str, limit: int | None = None) -> list[JobPublic]:
    """The submission's jobs, oldest first (the primary, then its fallback and reproductions); the first
    `limit` of them when given."""
    jobs = session.exec(
        select(JobRecord).where(JobRecord.submission_id == submission_id).order_by(col(JobRecord.created_at)).limit(limit)
    ).all()
    return [job_public(job) for job in jobs]


def get_job(session: Session, job_id: str) -> JobRecord:
    job = session.get(JobRecord, job_id)
    if job is None:
        raise RecordError(f"no job {job_id}", 404)
    return job


def dispatch_status(session: Session, submission_id: str) -> str | None:
    """The status of the submission's dispatch: its newest primary or fallback job's (a fallback's, after one)."""
    return session.exec(
        select(JobRecord.status).where(JobRecord.submission_id == submission_id, col(JobRecord.kind).in_(DISPATCH_KINDS))
        .order_by(col(JobRecord.created_at).desc())
    ).first()


def cancel(session: Session, submission_id: str) -> list[JobPublic]:
    """Cancel the submission's unfinished jobs; returns them as they now stand."""
    submission_row(session, submission_id)
    jobs = session.exec(
        select(JobRecord).where(JobRecord.submission_id == submission_id, col(JobRecord.status).not_in(FINAL))
        .with_for_update()
    ).all()
    if not jobs:
        raise RecordError(f"submission {submission_id} has no unfinished job to cancel", 409)
    now = utcnow()
    for job in jobs:
        job.cancel_requested, job.updated_at = True, now
        if job.status == JobStatus.QUEUED.value and job.lease_owner is None:
            job.status, job.finished_at, job.error = JobStatus.CANCELLED.value, now, "cancelled on request before it was dispatched"
            outbox.enqueue(session, run_events.ended(run_events.started(session, job.run_id), job, RunState.ABORT, job.error))
            settle(session, job, None, ran=False)
        session.add(job)
    session.flush()
    return [job_public(job) for job in jobs]


def reproducible_run(session: Session, submission_id: str, settings: Settings) -> JobRecord:
    """The submission's finished simulator run that a reproduction would repeat (same circuit, seeds,
    snapshot); a 409 when there is none, or its device (its plugin configured by `settings`) is real or
    cannot be seeded."""
    submission_row(session, submission_id)
    original = session.exec(
        select(JobRecord).where(JobRecord.submission_id == submission_id, col(JobRecord.kind).in_(DISPATCH_KINDS),
                                JobRecord.status == JobStatus.SUCCEEDED.value)
        .order_by(col(JobRecord.finished_at).desc())
    ).first()
    if original is None:
        raise RecordError(f"submission {submission_id} has no finished run to reproduce", 409)
    try:
        backend = get_backend(original.vendor, original.device, settings=settings)
    except BackendError as exc:
        raise RecordError(f"cannot reproduce on {original.vendor}/{original.device}: {exc}", 409) from None
    if not backend.simulator:
        raise RecordError(f"{original.vendor}/{original.device} is a real device; only simulator runs can be reproduced", 409)
    if not backend.reproducible:
        raise RecordError(f"{original.vendor}/{original.device} cannot be seeded, so its runs cannot be reproduced", 409)
    return original


def queue_reproduction(session: Session, original: JobRecord, estimated_cost: Decimal, decision: Decision) -> JobPublic:
    """Queue the reproduction of `original` that `decision` allowed, billed by the original's price model
    (govern.admission.reproductions); its run's START carries that decision."""
    job = child_job(original, JobKind.REPRODUCTION, vendor=original.vendor, device=original.device,
                    price_model=dict(original.price_model), estimated_cost=estimated_cost)
    session.add(job)
    announce(session)
    outbox.enqueue(session, run_events.child_start(run_events.started(session, original.run_id), original, job, decision))
    session.flush()
    return job_public(job)


def reproducibility(session: Session) -> tuple[int, int]:
    """(reproductions that matched, reproductions finished): the reproducibility rate's two terms."""
    matched, finished = session.exec(
        select(func.count().filter(col(JobRecord.reproduced).is_(True)), func.count(col(JobRecord.reproduced)))
        .where(JobRecord.kind == JobKind.REPRODUCTION.value)
    ).one()
    return int(matched or 0), int(finished or 0)


def job_counts(session: Session) -> dict[str, int]:
    """Jobs by status, for /metrics."""
    return {status: count for status, count in session.exec(select(JobRecord.status, func.count()).group_by(JobRecord.status))}
