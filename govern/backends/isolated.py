"""Local simulations in killable run processes: a run past its deadline or its memory cap is ended by
killing its process, and the worker goes on serving other jobs.

An in-process backend (Aer, IBM's fake devices, the Braket local simulator) runs native code that cannot be
interrupted: on a thread it could only be abandoned, and it went on using the CPU and memory. Here the
backend object is sent (pickled: parent to child only, the trusted direction) to a warm run process from a
pool, which does the backend's own `submit` and `wait`; the job holds its process from submit to result.
Replies are JSON. The child gets no credentials: its environment is cut down to what Python and the
numerical libraries read, and simulators take none. Starting a run process (Qiskit, Aer and the IBM runtime
imported, Aer warmed on a one-qubit circuit) takes seconds, so processes are kept warm and reused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govern.backends.base import (
    Availability,
    Backend,
    BackendError,
    DispatchRequest,
    Execution,
    JobState,
    VendorJobLost,
)
from govern.backends.in_process import InProcessBackend
from govern.process_pool import (
    CallTimeout,
    MemoryExceeded,
    PoolError,
    ProcessDied,
    ProcessPool,
    StartRefused,
    WorkerProcess,
    how_it_ended,
)

RAN, REFUSED = b"R", b"B"
CHILD_SLACK_S = 60.0
"""Added to the deadline the child's own backend sees, so that the parent's kill, not the child's soft
timeout (which leaves a running simulation behind), ends a run that is too long."""
_OUT_OF_MEMORY = ("Cannot allocate memory", "Insufficient memory", "std::bad_alloc")
"""How Aer reports an allocation the memory cap refused (it catches the failure itself)."""
PRELOADED = ("govern.backends.aer", "govern.backends.ibm")
_KEPT_VARIABLES = {"PATH", "PYTHONPATH", "PYTHONHOME", "HOME", "LANG", "TZ", "TMPDIR", "TEMP", "TMP", "VIRTUAL_ENV", "USER", "LOGNAME"}
_KEPT_PREFIXES = ("LC_", "OMP_", "KMP_", "QISKIT_", "OPENBLAS_", "MKL_")


def run_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without anything a credential could be in (tokens live in env:VAR references)."""
    environ = dict(os.environ) if environ is None else environ
    return {name: value for name, value in environ.items() if name in _KEPT_VARIABLES or name.startswith(_KEPT_PREFIXES)}


_pools: dict[int, ProcessPool] = {}
_pools_lock = threading.Lock()


def run_pool(memory_bytes: int) -> ProcessPool:
    """The process's pool of run processes for this memory cap, started on first use; one warms at once."""
    with _pools_lock:
        if memory_bytes not in _pools:
            _pools[memory_bytes] = ProcessPool(
                [sys.executable, "-P", "-m", "govern.backends.isolated"], {"preload": list(PRELOADED)}, os.cpu_count() or 2,
                memory_bytes=memory_bytes, what="simulation run process", env=run_environment(),
            )
            _pools[memory_bytes].warm(count=1)
        return _pools[memory_bytes]


@dataclass
class _Run:
    process: WorkerProcess
    release: Callable[[], None]
    deadline: float
    limit_s: float


class IsolatedBackend(Backend):
    """An in-process backend whose runs happen in a run process: submit holds a process, wait reads its result
    by the run's deadline (or kills it), cancel kills it."""

    def __init__(self, inner: InProcessBackend, pool: ProcessPool, memory_bytes: int):
        self.key, self.simulator, self.reproducible = inner.key, inner.simulator, inner.reproducible
        self._inner, self._pool, self._memory_bytes = pickle.dumps(inner), pool, memory_bytes
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def availability(self) -> Availability:
        with self._lock:
            return Availability(available=True, pending_jobs=len(self._runs), queue_minutes=0.0)

    def submit(self, request: DispatchRequest) -> str:
        """Parse, transpile and start the run in a run process, by the request's deadline."""
        held = contextlib.ExitStack()  # the process goes back to the pool when the run ends, not when submit returns
        try:
            process = held.enter_context(self._pool.checkout(request.timeout_s))
        except PoolError as exc:
            raise BackendError(f"{self.key} has no run process: {exc}") from None
        deadline = time.monotonic() + request.timeout_s
        relaxed = dataclasses.replace(request, timeout_s=request.timeout_s + CHILD_SLACK_S)
        try:
            vendor_job_id = self._answer(process, ("submit", self._inner, relaxed), deadline, request.timeout_s, "the run").decode()
        except BaseException:
            held.close()
            raise
        with self._lock:
            self._runs[vendor_job_id] = _Run(process, held.close, deadline, request.timeout_s)
        return vendor_job_id

    def status(self, vendor_job_id: str) -> JobState:
        self._run(vendor_job_id)
        return JobState.RUNNING

    def wait(self, vendor_job_id: str, timeout_s: float) -> Execution:
        run = self._run(vendor_job_id)
        try:
            limit_s = min(timeout_s, run.limit_s)
            deadline = min(time.monotonic() + timeout_s, run.deadline)
            payload = self._answer(run.process, ("wait", vendor_job_id, timeout_s + CHILD_SLACK_S), deadline, limit_s, f"job {vendor_job_id}")
        finally:
            self._forget(vendor_job_id)
        return Execution(**json.loads(payload))

    def cancel(self, vendor_job_id: str) -> None:
        """End the run now: its process is killed (a wait on it then fails)."""
        with self._lock:
            run = self._runs.get(vendor_job_id)
        if run is not None:
            run.process.kill()

    def _answer(self, process: WorkerProcess, request: tuple[Any, ...], deadline: float, limit_s: float, what: str) -> bytes:
        """One step of the run; the wait continues the submit's memory budget (the simulation started there)."""
        try:
            status, payload = process.call(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL), deadline,
                                           continuing=request[0] == "wait")
        except CallTimeout:
            raise BackendError(f"{self.key} {what} timed out after {limit_s:g} s; its run process was killed") from None
        except MemoryExceeded:
            raise BackendError(f"{self.key} {what} ran past its memory cap ({self._memory_bytes >> 20} MB); its run process was killed") from None
        except ProcessDied as exc:
            raise BackendError(f"{self.key} {what} ended with its run process ({how_it_ended(exc.returncode)})") from None
        if status == RAN:
            return payload
        if status == REFUSED:
            refusal = json.loads(payload)
            raise (VendorJobLost if refusal["lost"] else BackendError)(refusal["message"])
        raise BackendError(f"{self.key} {what} failed in its run process: {payload.decode(errors='replace')}")

    def _run(self, vendor_job_id: str) -> _Run:
        with self._lock:
            run = self._runs.get(vendor_job_id)
        if run is None:
            raise VendorJobLost(f"{self.key} has no job {vendor_job_id!r} in this process (simulator jobs do not survive a restart)")
        return run

    def _forget(self, vendor_job_id: str) -> None:
        with self._lock:
            run = self._runs.pop(vendor_job_id, None)
        if run is not None:
            run.release()


def isolated(backend: Backend, memory_bytes: int) -> Backend:
    """The backend, with its runs in run processes when it runs in this process; others as they are."""
    if isinstance(backend, InProcessBackend):
        return IsolatedBackend(backend, run_pool(memory_bytes), memory_bytes)
    return backend


# The run process.


def _start(setup: dict[str, Any]) -> Callable[[bytes], bytes]:
    import importlib

    try:
        for module in setup.get("preload", ()):
            importlib.import_module(module)
        _warm_up()
    except Exception as exc:
        raise StartRefused(f"the simulators do not start: {exc.__class__.__name__}: {exc}") from None
    backends: dict[str, InProcessBackend] = {}

    def answer(request: bytes) -> bytes:
        verb, *arguments = pickle.loads(request)
        try:
            if verb == "submit":
                blob, dispatch = arguments
                backend: InProcessBackend = pickle.loads(blob)
                vendor_job_id = backend.submit(dispatch)
                backends[vendor_job_id] = backend
                return RAN + vendor_job_id.encode()
            vendor_job_id, timeout_s = arguments
            running = backends.pop(vendor_job_id, None)
            if running is None:
                raise VendorJobLost(f"no job {vendor_job_id!r} in this run process")
            return RAN + json.dumps(dataclasses.asdict(running.wait(vendor_job_id, timeout_s))).encode()
        except BackendError as exc:
            if any(sign in str(exc) for sign in _OUT_OF_MEMORY):  # the simulator met the cap and said so: end this process
                raise MemoryError from None
            return REFUSED + json.dumps({"lost": isinstance(exc, VendorJobLost), "message": str(exc)}).encode()

    return answer


def _warm_up() -> None:
    """One tiny run, so that a job's first transpile and simulation do not pay for Aer's set-up."""
    from govern.backends.registry import get_backend

    backend = get_backend("local", "aer_simulator")
    request = DispatchRequest('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nh q[0];\nmeasure q -> c;\n',
                              shots=1, seed_transpiler=1, seed_simulator=1)
    backend.wait(backend.submit(request), 60)


if __name__ == "__main__":
    from govern import process_pool

    process_pool.quiet_child()
    process_pool.serve(sys.stdin.buffer, sys.stdout.buffer, _start)
