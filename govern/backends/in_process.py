"""The base of a simulator that runs in this process: its jobs are kept here, reproducible from their seeds
and lost on restart. The worker runs such a backend's jobs in a killable run process (govern.backends.isolated).
"""

from __future__ import annotations

import abc
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from qiskit import QuantumCircuit

from govern.backends.base import (
    Availability,
    Backend,
    BackendError,
    DispatchRequest,
    Execution,
    JobState,
    VendorJobLost,
    poll_until_final,
    translated_errors,
)
from govern.backends.checks import build_execution, job_state
from govern.backends.transpile import load_circuit, transpile_for, transpiled_metrics


@dataclass(frozen=True)
class _InProcessJob:
    handle: Any
    backend_key: str
    request: DispatchRequest
    transpiled: dict[str, Any]
    calibration_snapshot_id: str | None
    deadline: float


class InProcessBackend(Backend):
    """A simulator whose jobs live in this process: reproducible from seeds, lost on restart.

    Subclasses say what to transpile for, how to start a run and where its counts are; this class
    keeps the jobs (one table per process, keyed by job id), waits, times out and cancels. A subclass
    whose simulator cannot be seeded sets `reproducible = False`.
    """

    simulator = True
    reproducible = True
    device: str
    _jobs: ClassVar[dict[str, _InProcessJob]] = {}
    _jobs_lock: ClassVar[threading.Lock] = threading.Lock()

    @abc.abstractmethod
    def _target(self) -> Any:
        """The qiskit backend to transpile for (built on demand, cached per process)."""

    @abc.abstractmethod
    def _calibration_snapshot_id(self) -> str | None: ...

    @abc.abstractmethod
    def _start(self, transpiled: QuantumCircuit, request: DispatchRequest) -> Any:
        """Start the run; the handle has job_id(), status(), result() and cancel()."""

    @abc.abstractmethod
    def _raw_counts(self, result: Any) -> Any:
        """The counts in the library's result, unchecked."""

    def availability(self) -> Availability:
        with self._jobs_lock:
            jobs = [job for job in self._jobs.values() if job.backend_key == self.key]
        in_flight = sum(1 for job in jobs if not job_state(job.handle.status()).final)
        return Availability(available=True, pending_jobs=in_flight, queue_minutes=0.0)

    def submit(self, request: DispatchRequest) -> str:
        circuit = load_circuit(request.qasm, request.limits)
        with translated_errors(f"cannot set up {self.key}"):
            target = self._target()
            calibration_snapshot_id = self._calibration_snapshot_id()
        transpiled = transpile_for(circuit, target, request.seed_transpiler, self.key)
        with translated_errors(f"{self.key} did not start the run"):
            handle = self._start(transpiled, request)
            vendor_job_id = str(handle.job_id())
        with self._jobs_lock:
            self._jobs[vendor_job_id] = _InProcessJob(
                handle=handle, backend_key=self.key, request=request, transpiled=transpiled_metrics(transpiled),
                calibration_snapshot_id=calibration_snapshot_id, deadline=time.monotonic() + request.timeout_s,
            )
        return vendor_job_id

    def status(self, vendor_job_id: str) -> JobState:
        job = self._job(vendor_job_id)
        with translated_errors(f"cannot read the status of {self.key} job {vendor_job_id}"):
            return job_state(job.handle.status())

    def wait(self, vendor_job_id: str, timeout_s: float) -> Execution:
        """The finished run; the request's own timeout (counted from submit) bounds the wait too."""
        job = self._job(vendor_job_id)
        remaining = min(timeout_s, job.deadline - time.monotonic())
        with translated_errors(f"cannot read the status of {self.key} job {vendor_job_id}"):
            state = poll_until_final(
                lambda: job_state(job.handle.status()), remaining, first_interval_s=0.01, max_interval_s=0.25
            )
        if state is None:
            self.cancel(vendor_job_id)
            limit = min(timeout_s, job.request.timeout_s)
            raise BackendError(f"{self.key} job {vendor_job_id} timed out after {limit:g} s and was cancelled")
        self._forget(vendor_job_id)
        if state is JobState.CANCELLED:
            raise BackendError(f"{self.key} job {vendor_job_id} was cancelled")
        with translated_errors(f"{self.key} job {vendor_job_id} failed"):
            raw_counts = self._raw_counts(job.handle.result())
        return build_execution(
            vendor_job_id=vendor_job_id, device=self.device, raw_counts=raw_counts, shots=job.request.shots,
            transpiled=job.transpiled, seed_transpiler=job.request.seed_transpiler,
            seed_simulator=job.request.seed_simulator, calibration_snapshot_id=job.calibration_snapshot_id,
            usage_seconds=None,
        )

    def cancel(self, vendor_job_id: str) -> None:
        """Cancel a queued job; one already running finishes in the background and its result is dropped."""
        job = self._job(vendor_job_id)
        self._forget(vendor_job_id)
        with translated_errors(f"cannot cancel {self.key} job {vendor_job_id}"):
            job.handle.cancel()

    def _job(self, vendor_job_id: str) -> _InProcessJob:
        with self._jobs_lock:
            job = self._jobs.get(vendor_job_id)
        if job is None or job.backend_key != self.key:
            raise VendorJobLost(
                f"{self.key} has no job {vendor_job_id!r} in this process (simulator jobs do not survive a restart)"
            )
        return job

    def _forget(self, vendor_job_id: str) -> None:
        with self._jobs_lock:
            self._jobs.pop(vendor_job_id, None)
