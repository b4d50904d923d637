"""The worker: takes jobs from the queue and drives each to a final state, whatever happens to it.

Each step is persisted before the external call it leads to: `submitted` before the vendor is asked, the
vendor job id as soon as it exists, the result and the bill with the final state. A worker that dies
leaves its job with an expiring lease; the next worker to claim it polls the stored vendor job instead of
submitting again. A simulator job lives in its worker's process, so after a crash it is run again from
its seeds (same result); a vendor job whose submission was cut off before its id came back is failed,
never submitted twice.

A simulation that runs in this process's libraries (Aer, IBM's fake devices) runs in a run process of its
own instead (`govern.backends.isolated`), under the job's deadline and a memory cap: a run past either is
ended by killing that process. Other backend calls (vendors' clouds, over the network) run in a helper
thread with a deadline, so a backend that hangs fails its job and the worker goes on serving others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from openlineage.client.event_v2 import RunState
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from govern.backends.base import Availability, Backend, BackendError, DispatchRequest, Execution, UnknownBackend, VendorJobLost
from govern.backends.registry import get_backend
from govern.backends.isolated import IsolatedBackend, isolated, run_pool
from govern.circuit import CircuitLimits
from govern.db.database import session_scope
from govern.lineage import run_events
from govern.dispatch.announcements import JobAnnouncements, announce
from govern.dispatch.costs import actual_cost, sandbox_refusal, settle
from govern.dispatch.jobs import child_job
from govern.dispatch.queue import LeaseLost, cancel_requested, claim, renew, transition
from govern.db.tables import JobRecord, JobStatus, ResultRecord, SubmissionRecord, utcnow
from govern.records.errors import as_utc
from govern.settings import Settings

log = logging.getLogger("govern.worker")
ALLOWED_OUTCOMES = ("allowed", "warned")
Answer = TypeVar("Answer")


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


class CredentialError(BackendError):
    """A credential reference the worker cannot resolve; the job fails without reaching the vendor."""


class CredentialReferences(Mapping[str, str]):
    """Manifest credentials are references (`env:VAR`); they are resolved only when a backend reads one,
    just before use, so a backend that needs none (a simulator) never asks."""

    def __init__(self, references: Mapping[str, str], environ: Mapping[str, str]):
        self._references, self._environ = dict(references), environ

    def __getitem__(self, key: str) -> str:
        reference = self._references[key]
        scheme, _, name = reference.partition(":")
        if scheme != "env" or not name:
            raise CredentialError(f"credential {key!r}: only env:VAR references can be resolved by this worker, not {scheme!r}")
        if name not in self._environ:
            raise CredentialError(f"credential {key!r}: environment variable {name} is not set for the worker")
        return self._environ[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._references)

    def __len__(self) -> int:
        return len(self._references)


def call_with_deadline(action: Callable[[], Answer], deadline_s: float, what: str) -> Answer:
    """Run a backend call in a daemon thread; a call still running after the deadline is abandoned."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"govern-backend-{what}", daemon=True)
    thread.start()
    thread.join(deadline_s)
    if thread.is_alive():
        raise BackendError(f"{what} did not return within {deadline_s:g} s; the backend is treated as hung")
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, BackendError):
            raise error
        raise BackendError(f"{what} failed: {error}") from error
    return outcome["value"]


def bounded_call(backend: Backend, action: Callable[[], Answer], deadline_s: float, what: str) -> Answer:
    """An isolated backend's call, which ends at its deadline by killing its run process; any other on a thread."""
    if not isinstance(backend, IsolatedBackend):
        return call_with_deadline(action, deadline_s, what)
    try:
        return action()
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"{what} failed: {exc}") from exc


def unallowed(session: Session, job: JobRecord) -> str | None:
    """Fail closed: a job whose submission was not allowed never reaches a backend, however it got queued."""
    outcome = session.exec(select(SubmissionRecord.outcome).where(SubmissionRecord.id == job.submission_id)).first()
    if outcome in ALLOWED_OUTCOMES:
        return None
    return f"submission {job.submission_id} was {outcome or 'never recorded'}, so its job is not dispatched"


class _Lease:
    """The heartbeat of one job: renews the lease a few times per lease period, and cancels the vendor
    job as soon as someone asks for cancellation."""

    def __init__(self, worker: Worker, job: JobRecord):
        self.worker, self.job_id = worker, job.id
        self.lost, self.cancelled, self._stop = threading.Event(), threading.Event(), threading.Event()
        self.on_cancel: Callable[[], None] | None = None

    def beat(self) -> None:
        interval = self.worker.options.lease_s / 3
        while not self._stop.wait(interval):
            try:
                if not renew(self.worker.database, self.job_id, self.worker.worker_id, self.worker.options.lease_s):
                    self.lost.set()
                    return
                if not self.cancelled.is_set() and cancel_requested(self.worker.database, self.job_id):
                    self.cancelled.set()
                    if self.on_cancel is not None:
                        self.on_cancel()
            except Exception:  # a database hiccup: the next beat tries again, the lease has slack
                log.warning("heartbeat for job %s failed", self.job_id, exc_info=True)

    @contextlib.contextmanager
    def held(self) -> Iterator[_Lease]:
        thread = threading.Thread(target=self.beat, name=f"govern-lease-{self.job_id}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=5)


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
        lease = _Lease(self, job)
        with lease.held():
            try:
                self._advance(job, lease)
            except LeaseLost as exc:
                log.warning("%s", exc)
        return True

    # The state machine, one method per step.

    def _advance(self, job: JobRecord, lease: _Lease) -> None:
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
        if job.vendor_job_id is None:
            job = self._submit(job, backend)
            if job is None:
                return
        self._wait(job, backend, lease)

    def _submit(self, job: JobRecord, backend: Backend) -> JobRecord | None:
        """Maybe fall back, else submit: `submitted` is stored before the vendor is called."""
        if job.status == JobStatus.SUBMITTED.value and not backend.simulator:
            self._end(job, JobStatus.FAILED, "the worker stopped while submitting to the vendor, before a job id came back; "
                      "it is not submitted again (the vendor may have it): check with the vendor and resubmit", ran=False)
            return None
        trigger = self._fallback_trigger(job, backend)
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
        return job

    def _wait(self, job: JobRecord, backend: Backend, lease: _Lease) -> None:
        vendor_job_id = job.vendor_job_id
        lease.on_cancel = lambda: self._cancel_at_vendor(backend, vendor_job_id)
        if lease.cancelled.is_set() or job.cancel_requested:  # asked before this worker took the job over
            lease.on_cancel()
        remaining = self._remaining_s(job)
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
                self._wait(resubmitted, backend, lease)
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
        charged: dict[str, Any] = {}

        def book(session: Session, stored: JobRecord) -> None:
            charged["amount"] = settle(session, stored, execution.usage_seconds, ran=True)
            session.add(ResultRecord(
                job_id=stored.id, submission_id=stored.submission_id, device=execution.device, counts=execution.counts,
                result_hash=execution.result_hash, transpiled=execution.transpiled,
                calibration_snapshot_id=execution.calibration_snapshot_id, usage_seconds=execution.usage_seconds,
                actual_cost=charged["amount"], currency=stored.currency,
            ))
            if stored.kind == "reproduction" and stored.parent_job_id:
                original = session.get(ResultRecord, stored.parent_job_id)
                stored.reproduced = original is not None and original.result_hash == execution.result_hash

        price = actual_cost(job.price_model, job.shots, execution.usage_seconds)
        transition(self.database, job, self.worker_id, status=JobStatus.SUCCEEDED, error=None,
                   events=[run_events.complete(start, job, execution, float(price.amount))], also=book)
        log.info("job %s succeeded (%s)", job.id, execution.result_hash)

    def _end(self, job: JobRecord, status: JobStatus, reason: str, *, ran: bool) -> None:
        """Fail or cancel the job: reason stored, reservation released, lineage told (FAIL or ABORT)."""
        start = self._start(job)
        event_type = RunState.ABORT if status is JobStatus.CANCELLED else RunState.FAIL

        def book(session: Session, stored: JobRecord) -> None:
            settle(session, stored, None, ran=ran and not self._simulated(stored))
            if stored.kind == "reproduction":
                stored.reproduced = False

        transition(self.database, job, self.worker_id, status=status, error=reason,
                   events=[run_events.ended(start, job, event_type, reason)], also=book)
        log.info("job %s %s: %s", job.id, status.value, reason)

    @staticmethod
    def _simulated(job: JobRecord) -> bool:
        """A run that never left this machine bills nothing when it fails."""
        return job.vendor == "local"

    # Fallback.

    def _fallback_trigger(self, job: JobRecord, backend: Backend) -> str | None:
        """Why the job should go to its fallback now (device unavailable, queue over a threshold), or None."""
        if not job.fallback or job.kind != "primary":
            return None
        triggers = job.fallback.get("on", [])
        try:
            availability = call_with_deadline(backend.availability, self.options.call_grace_s, f"{backend.key} availability")
        except BackendError as exc:
            availability = Availability(available=False, reason=str(exc))
        if "unavailable" in triggers and not availability.available:
            return f"{backend.key} is unavailable: {availability.reason or 'the vendor says so'}"
        for trigger in triggers:
            if not isinstance(trigger, dict):
                continue
            minutes, pending = trigger.get("queue_minutes_over"), trigger.get("pending_jobs_over")
            if minutes is not None and availability.queue_minutes is not None and availability.queue_minutes > minutes:
                return f"{backend.key} queue is {availability.queue_minutes:g} min, over the {minutes} min threshold"
            if pending is not None and availability.pending_jobs is not None and availability.pending_jobs > pending:
                return f"{backend.key} has {availability.pending_jobs} pending jobs, over the threshold of {pending}"
        return None

    def _fall_back_or_fail(self, job: JobRecord, trigger: str, reason: str, *, ran: bool) -> None:
        if job.fallback and job.kind == "primary" and trigger in job.fallback.get("on", []):
            self._fall_back(job, f"{job.vendor}/{job.device} failed: {reason}", ran=ran)
        else:
            self._end(job, JobStatus.FAILED, reason, ran=ran)

    def _fall_back(self, job: JobRecord, reason: str, *, ran: bool) -> None:
        """End the job as `fallback` (its run aborted with the reason) and queue the fallback job, whose run
        is a child of this one; all in one transaction."""
        target = job.fallback or {}
        model = target.get("priceModel", {})
        fallback = child_job(job, "fallback", vendor=target["vendor"], device=target["device"], price_model=model,
                             estimated_cost=actual_cost(model, job.shots, None).amount)
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
                               seed_simulator=job.seed_simulator, timeout_s=self._remaining_s(job),
                               limits=self.options.circuit_limits)

    def _remaining_s(self, job: JobRecord) -> float:
        """The job's time limit counts from its first submission, across restarts of workers."""
        started = as_utc(job.started_at) if job.started_at else utcnow()
        elapsed = (utcnow() - started) / timedelta(seconds=1)
        return max(1.0, self.options.job_timeout_s - elapsed)

    def _cancel_at_vendor(self, backend: Backend, vendor_job_id: str | None) -> None:
        if vendor_job_id is None:
            return
        try:
            call_with_deadline(lambda: backend.cancel(vendor_job_id), self.options.call_grace_s, f"{backend.key} cancel")
        except BackendError as exc:
            log.warning("cancelling %s at the vendor failed: %s", vendor_job_id, exc)

