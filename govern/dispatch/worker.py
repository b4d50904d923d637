"""The worker: takes jobs from the queue and drives each to a final state, whatever happens to it.

This module is the loop and its state machine; the lease's heartbeat (`lease`), the deadlines on backend
calls (`deadlines`), credentials (`credentials`), the fallback rules (`fallback`) and the result
(`results`) each have a module of their own.

Each step is persisted before the external call it leads to: `submitted` before the vendor is asked, the
vendor job id as soon as it exists, the result and the bill with the final state. A worker that dies
leaves its job with an expiring lease; the next worker to claim it polls the stored vendor job instead of
submitting again. A simulator job lives in its worker's process, so after a crash it is run again from
its seeds (same result); a vendor job whose submission was cut off before its id came back is failed,
never submitted twice.

A simulation that runs in this process's libraries (Aer, IBM's fake devices) runs in a run process of its
own instead (`govern.backends.isolated`), under the job's deadline and a memory cap.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from openlineage.client.event_v2 import RunState
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from govern.backends.base import Backend, BackendError, DispatchRequest, Execution, UnknownBackend, VendorJobLost
from govern.backends.isolated import isolated, run_pool
from govern.backends.registry import get_backend
from govern.circuit import CircuitLimits
from govern.db.database import session_scope
from govern.db.tables import JobRecord, JobStatus, SubmissionRecord, utcnow
from govern.dispatch.announcements import JobAnnouncements, announce
from govern.dispatch.costs import actual_cost, sandbox_refusal, settle
from govern.dispatch.credentials import CredentialError, CredentialReferences
from govern.dispatch.deadlines import bounded_call, call_with_deadline, remaining_s
from govern.dispatch.fallback import fallback_job, fallback_trigger, falls_back_on
from govern.dispatch.lease import Lease
from govern.dispatch.queue import LeaseLost, cancel_requested, claim, transition
from govern.dispatch.results import record_no_result, record_result
from govern.lineage import outbox, run_events
from govern.lineage.pilot_state import with_pilot
from govern.settings import Settings

log = logging.getLogger("govern.worker")
ALLOWED_OUTCOMES = ("allowed", "warned")


@dataclass(frozen=True)
class WorkerOptions:
    lease_s: float = 30.0
    poll_s: float = 1.0
    job_timeout_s: float = 300.0
    call_grace_s: float = 30.0
    """How much longer than its own time limit a backend call may take before it is treated as hung."""
    job_memory_mb: int = 4096
    """Memory a local simulation may take on in its run process."""
    circuit_limits: CircuitLimits = CircuitLimits()
    """The bounds circuits are admitted under, held again when a backend parses one."""
    backend_settings: Settings | None = None
    """What backend plugins build their own configs from (`ibm`'s mode); None gives each its defaults."""


def worker_options(settings: Settings) -> WorkerOptions:
    return WorkerOptions(lease_s=settings.worker_lease_s, poll_s=settings.worker_poll_s,
                         job_timeout_s=settings.job_timeout_s, job_memory_mb=settings.job_memory_mb,
                         circuit_limits=settings.circuit_limits, backend_settings=settings)


def unallowed(session: Session, job: JobRecord) -> str | None:
    """Fail closed: a job whose submission was not allowed never reaches a backend, however it got queued."""
    outcome = session.exec(select(SubmissionRecord.outcome).where(SubmissionRecord.id == job.submission_id)).first()
    if outcome in ALLOWED_OUTCOMES:
        return None
    return f"submission {job.submission_id} was {outcome or 'never recorded'}, so its job is not dispatched"


class Worker:
    def __init__(
        self,
        database: Engine,
        options: WorkerOptions | None = None,
        *,
        worker_id: str | None = None,
        backend_for: Callable[..., Backend] = get_backend,
        environ: Mapping[str, str] | None = None,
    ):
        self.database = database
        self.options = options or WorkerOptions()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.backend_for = backend_for
        self.environ = os.environ if environ is None else environ
        self._starts: dict[str, dict[str, Any]] = {}
        self.announcements = JobAnnouncements(database)
        run_pool(self.options.job_memory_mb << 20)  # a run process starts warming now, before the first job needs it

    def run(self, stop: threading.Event) -> None:
        """Serve the queue until `stop` is set; an idle worker waits for a queued job's announcement, or
        `poll_s` at the most."""
        log.info("worker %s serving the queue", self.worker_id)
        with self.announcements:
            while not stop.is_set():
                try:
                    worked = self.run_once()
                except Exception:
                    log.exception("worker %s: a pass over the queue failed; retrying", self.worker_id)
                    worked = False
                if not worked and not stop.is_set():
                    self.announcements.wait(self.options.poll_s)

    def wake(self) -> None:
        """Cut an idle wait short: a job was queued in this process, or the worker is asked to stop."""
        self.announcements.wake()

    def run_until_idle(self) -> int:
        """Process jobs until none is claimable (fallbacks and retries included); returns how many."""
        processed = 0
        while self.run_once():
            processed += 1
        return processed

    def run_once(self) -> bool:
        job = claim(self.database, self.worker_id, self.options.lease_s)
        if job is None:
            return False
        self._starts.clear()
        lease = Lease(self.database, job.id, self.worker_id, self.options.lease_s)
        with lease.held():
            try:
                self._advance(job, lease)
            except LeaseLost as exc:
                log.warning("%s", exc)
        return True

    # The state machine, one method per step.

    def _advance(self, job: JobRecord, lease: Lease) -> None:
        if job.cancel_requested and job.vendor_job_id is None:
            interrupted = job.status == JobStatus.SUBMITTED.value
            reason = ("cancelled on request; a worker had stopped while submitting it, so the vendor may hold the job: "
                      "check with the vendor" if interrupted else "cancelled before it was dispatched")
            self._end(job, JobStatus.CANCELLED, reason, ran=False)
            return
        if job.vendor_job_id is None:
            with session_scope(self.database) as session:
                refusal = unallowed(session, job) or sandbox_refusal(session, job)
                self._starts[job.run_id] = run_events.started(session, job.run_id)
            if refusal:
                self._end(job, JobStatus.FAILED, refusal, ran=False)
                return
        try:
            backend = isolated(self.backend_for(
                job.vendor, job.device, credentials=CredentialReferences(job.credentials, self.environ),
                settings=self.options.backend_settings,
            ), self.options.job_memory_mb << 20)
        except (UnknownBackend, CredentialError) as exc:
            self._end(job, JobStatus.FAILED, str(exc), ran=False)
            return
        except BackendError as exc:
            self._fall_back_or_fail(job, "error", str(exc), ran=False)
            return
        vendor_job_id = job.vendor_job_id
        if vendor_job_id is None:
            submitted = self._submit(job, backend)
            if submitted is None:
                return
            job, vendor_job_id = submitted
        self._wait(job, vendor_job_id, backend, lease)

    def _submit(self, job: JobRecord, backend: Backend) -> tuple[JobRecord, str] | None:
        """Maybe fall back, else submit: `submitted` is stored before the vendor is called. Returns the running
        job and its vendor job id, or None when the job ended or fell back instead."""
        if job.status == JobStatus.SUBMITTED.value and not backend.simulator:
            self._end(job, JobStatus.FAILED, "the worker stopped while submitting to the vendor, before a job id came back; "
                      "it is not submitted again (the vendor may have it): check with the vendor and resubmit", ran=False)
            return None
        trigger = fallback_trigger(job, backend, self.options.call_grace_s)
        if trigger:
            self._fall_back(job, trigger, ran=False)
            return None
        job = transition(self.database, job, self.worker_id, status=JobStatus.SUBMITTED,
                         started_at=job.started_at or utcnow())
        request = self._request(job)
        try:
            vendor_job_id = bounded_call(backend, lambda: backend.submit(request), request.timeout_s + self.options.call_grace_s, f"{backend.key} submit")
        except BackendError as exc:
            self._fall_back_or_fail(job, "error", str(exc), ran=False)
            return None
        job = transition(self.database, job, self.worker_id, status=JobStatus.RUNNING, vendor_job_id=vendor_job_id,
                         events=[run_events.running(self._start(job), job)])
        log.info("job %s running on %s as %s", job.id, backend.key, vendor_job_id)
        return job, vendor_job_id

    def _wait(self, job: JobRecord, vendor_job_id: str, backend: Backend, lease: Lease) -> None:
        lease.on_cancel = lambda: self._cancel_at_vendor(backend, vendor_job_id)
        if lease.cancelled.is_set() or job.cancel_requested:  # asked before this worker took the job over
            lease.on_cancel()
        remaining = remaining_s(job, self.options.job_timeout_s)
        try:
            execution = bounded_call(backend, lambda: backend.wait(vendor_job_id, remaining), remaining + self.options.call_grace_s, f"{backend.key} job")
        except VendorJobLost as exc:
            if not backend.simulator:
                self._end(job, JobStatus.FAILED, str(exc), ran=True)
                return
            log.info("job %s: %s; running it again from its seeds", job.id, exc)
            job = transition(self.database, job, self.worker_id, status=JobStatus.SUBMITTED, vendor_job_id=None)
            resubmitted = self._submit(job, backend)
            if resubmitted is not None:
                self._wait(*resubmitted, backend, lease)
            return
        except BackendError as exc:
            if lease.cancelled.is_set() or cancel_requested(self.database, job.id):
                self._end(job, JobStatus.CANCELLED, "cancelled on request", ran=True)
            else:
                self._fall_back_or_fail(job, "error", str(exc), ran=True)
            return
        if lease.lost.is_set():
            raise LeaseLost(f"job {job.id}: the lease was lost while it ran; the next holder finishes it")
        self._succeed(job, execution)

    def _succeed(self, job: JobRecord, execution: Execution) -> None:
        start = self._start(job)

        price = actual_cost(job.price_model, job.shots, execution.usage_seconds)

        def book(session: Session, stored: JobRecord) -> None:
            record_result(session, stored, execution, settle(session, stored, execution.usage_seconds, ran=True))
            outbox.enqueue(session, with_pilot(session, run_events.complete(start, job, execution, float(price.amount)), utcnow()))

        transition(self.database, job, self.worker_id, status=JobStatus.SUCCEEDED, error=None, also=book)
        log.info("job %s succeeded (%s)", job.id, execution.result_hash)

    def _end(self, job: JobRecord, status: JobStatus, reason: str, *, ran: bool) -> None:
        """Fail or cancel the job: reason stored, reservation released, lineage told (FAIL or ABORT)."""
        start = self._start(job)
        event_type = RunState.ABORT if status is JobStatus.CANCELLED else RunState.FAIL

        def book(session: Session, stored: JobRecord) -> None:
            settle(session, stored, None, ran=ran and not self._simulated(stored))
            record_no_result(stored)
            outbox.enqueue(session, with_pilot(session, run_events.ended(start, job, event_type, reason), utcnow()))

        transition(self.database, job, self.worker_id, status=status, error=reason, also=book)
        log.info("job %s %s: %s", job.id, status.value, reason)

    @staticmethod
    def _simulated(job: JobRecord) -> bool:
        """A run that never left this machine bills nothing when it fails."""
        return job.vendor == "local"

    # Fallback (the rules are in govern.dispatch.fallback).

    def _fall_back_or_fail(self, job: JobRecord, trigger: str, reason: str, *, ran: bool) -> None:
        if falls_back_on(job, trigger):
            self._fall_back(job, f"{job.vendor}/{job.device} failed: {reason}", ran=ran)
        else:
            self._end(job, JobStatus.FAILED, reason, ran=ran)

    def _fall_back(self, job: JobRecord, reason: str, *, ran: bool) -> None:
        """End the job as `fallback` (its run aborted with the reason) and queue the fallback job, whose run
        is a child of this one; all in one transaction."""
        fallback = fallback_job(job)
        target_key, fallback_id = f"{fallback.vendor}/{fallback.device}", fallback.id
        start = self._start(job)

        def queue_fallback(session: Session, stored: JobRecord) -> None:
            settle(session, stored, None, ran=ran and not self._simulated(stored))
            session.add(fallback)
            announce(session)

        transition(self.database, job, self.worker_id, status=JobStatus.FALLBACK, error=reason,
                   events=[run_events.ended(start, job, RunState.ABORT, f"falling back to {target_key}: {reason}"),
                           run_events.child_start(start, job, fallback)],
                   also=queue_fallback)
        log.info("job %s falls back to %s as job %s: %s", job.id, target_key, fallback_id, reason)

    # Helpers.

    def _start(self, job: JobRecord) -> dict[str, Any]:
        """The run's START event, read once per job: every later event of the run builds on it."""
        if job.run_id not in self._starts:
            with session_scope(self.database) as session:
                self._starts[job.run_id] = run_events.started(session, job.run_id)
        return self._starts[job.run_id]

    def _request(self, job: JobRecord) -> DispatchRequest:
        return DispatchRequest(qasm=job.qasm, shots=job.shots, seed_transpiler=job.seed_transpiler,
                               seed_simulator=job.seed_simulator, timeout_s=remaining_s(job, self.options.job_timeout_s),
                               limits=self.options.circuit_limits)

    def _cancel_at_vendor(self, backend: Backend, vendor_job_id: str) -> None:
        try:
            call_with_deadline(lambda: backend.cancel(vendor_job_id), self.options.call_grace_s, f"{backend.key} cancel")
        except BackendError as exc:
            log.warning("cancelling %s at the vendor failed: %s", vendor_job_id, exc)

