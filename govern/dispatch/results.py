"""The result step: what a finished job produced, written in the transaction that ends the job and read
back for the API.

A result carries a content hash (govern.backends.checks.result_hash), so a reproduction is compared with
its original by hash alone; whether it matched is stored on the reproduction's job.
"""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, col, select

from govern.backends.base import Execution
from govern.db.public import ResultPublic
from govern.db.tables import JobRecord, ResultRecord
from govern.dispatch.baselines import baseline_of
from govern.dispatch.control import dispatch_status
from govern.dispatch.jobs import DISPATCH_KINDS, JobKind
from govern.records.errors import RecordError, as_utc


def record_result(session: Session, job: JobRecord, execution: Execution, actual_cost: Decimal) -> None:
    """Store the job's result; a reproduction also records whether it hashed the same as its original."""
    session.add(ResultRecord(
        job_id=job.id, submission_id=job.submission_id, device=execution.device, counts=execution.counts,
        result_hash=execution.result_hash, transpiled=execution.transpiled,
        calibration_snapshot_id=execution.calibration_snapshot_id, usage_seconds=execution.usage_seconds,
        actual_cost=actual_cost, currency=job.currency,
    ))
    if job.kind == JobKind.REPRODUCTION.value and job.parent_job_id:
        original = session.get(ResultRecord, job.parent_job_id)
        job.reproduced = original is not None and original.result_hash == execution.result_hash


def record_no_result(job: JobRecord) -> None:
    """A job ends without a result: a reproduction that gave none did not reproduce its original."""
    if job.kind == JobKind.REPRODUCTION.value:
        job.reproduced = False


def result_of(session: Session, submission_id: str) -> ResultPublic:
    """The result of the submission's dispatch: the succeeded primary or fallback job's, not a reproduction's
    or a baseline's, with how it compares with its baseline."""
    found = session.exec(
        select(ResultRecord, JobRecord).join(JobRecord, col(JobRecord.id) == ResultRecord.job_id)
        .where(ResultRecord.submission_id == submission_id, col(JobRecord.kind).in_(DISPATCH_KINDS))
        .order_by(col(ResultRecord.created_at).desc())
    ).first()
    if found is None:
        status = dispatch_status(session, submission_id)
        raise RecordError(f"submission {submission_id} has no result yet (dispatch: {status or 'none, it was denied'})", 404)
    result, job = found
    return ResultPublic.model_validate({**result.model_dump(), "created_at": as_utc(result.created_at),
                                        "baseline": baseline_of(session, job, result)})
