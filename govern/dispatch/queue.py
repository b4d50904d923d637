"""The work queue: dispatch jobs are rows, claimed under a lease that the holding worker renews.

PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any number of workers on any number of machines share the
queue without taking a job twice. SQLite: every transaction takes the write lock (BEGIN IMMEDIATE), so
claims are serialised too; one worker is the supported setup there.

Every change a worker makes is fenced by its lease: it applies only while `lease_owner` is still that
worker, so a worker that stalled past its lease, and whose job was taken over, cannot overwrite it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from openlineage.client.event_v2 import RunEvent
from sqlalchemy import and_, or_, update
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session, col, select

from govern.db.database import session_scope
from govern.db.tables import FINAL_STATUSES, JobRecord, JobStatus, utcnow
from govern.lineage import outbox

IN_FLIGHT = (JobStatus.SUBMITTED.value, JobStatus.RUNNING.value)
FINAL = tuple(status.value for status in FINAL_STATUSES)


class LeaseLost(Exception):
    """Another worker holds the job now (this one's lease expired); this worker must leave it alone."""


def claimable(now: datetime) -> Any:
    """Unfinished jobs nobody holds: never claimed, or held by a worker that stopped renewing its lease
    (it died or hung)."""
    unheld = or_(col(JobRecord.lease_owner).is_(None), col(JobRecord.lease_expires_at) < now)
    return and_(col(JobRecord.status).in_((JobStatus.QUEUED.value, *IN_FLIGHT)), unheld)


def claim(database: Engine, worker_id: str, lease_s: float) -> JobRecord | None:
    """Take the oldest claimable job under a fresh lease; None when there is none."""
    with session_scope(database) as session:
        now = utcnow()
        query = select(JobRecord).where(claimable(now)).order_by(col(JobRecord.created_at), col(JobRecord.id)).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = session.exec(query).first()
        if job is None:
            return None
        job.lease_owner, job.lease_expires_at = worker_id, now + timedelta(seconds=lease_s)
        job.attempts += 1
        job.updated_at = now
        session.add(job)
        session.flush()
        session.expunge(job)
        return job


def renew(database: Engine, job_id: str, worker_id: str, lease_s: float) -> bool:
    """Extend the lease (the heartbeat); False when the job is no longer this worker's."""
    now = utcnow()
    with session_scope(database) as session:
        result = session.execute(
            update(JobRecord)
            .where(col(JobRecord.id) == job_id, col(JobRecord.lease_owner) == worker_id)
            .values(lease_expires_at=now + timedelta(seconds=lease_s))
        )
        renewed = cast("CursorResult[Any]", result).rowcount  # an UPDATE's result is a cursor result, typed as any Result
    return renewed == 1


def cancel_requested(database: Engine, job_id: str) -> bool:
    with session_scope(database) as session:
        return bool(session.exec(select(JobRecord.cancel_requested).where(JobRecord.id == job_id)).first())


def transition(
    database: Engine,
    job: JobRecord,
    worker_id: str,
    *,
    status: JobStatus | None = None,
    events: Iterable[RunEvent] = (),
    also: Callable[[Session, JobRecord], None] | None = None,
    **fields: Any,
) -> JobRecord:
    """Persist the job's next state, its lineage events and any bookkeeping (`also`) in one transaction,
    fenced by the lease; returns the stored job (detached). A final status releases the lease."""
    with session_scope(database) as session:
        query = select(JobRecord).where(JobRecord.id == job.id, JobRecord.lease_owner == worker_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        stored = session.exec(query).first()
        if stored is None or stored.status in FINAL:
            raise LeaseLost(f"job {job.id} is no longer held by {worker_id}")
        now = utcnow()
        for name, value in fields.items():
            setattr(stored, name, value)
        if status is not None:
            stored.status = status.value
            if status in FINAL_STATUSES:
                stored.finished_at, stored.lease_owner, stored.lease_expires_at = now, None, None
        stored.updated_at = now
        session.add(stored)
        for event in events:
            outbox.enqueue(session, event)
        if also is not None:
            also(session, stored)
        session.flush()
        session.expunge(stored)
        return stored

