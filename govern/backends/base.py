"""The backend interface: one device of one vendor, the request it runs and what it answers.

Every backend, built-in or plugin, is a `Backend`; the worker reads only these types, so a vendor's SDK
never reaches it. Errors are `BackendError`s whose message says why and holds no secrets
(`translated_errors` makes one from any library exception); `poll_until_final` is how both bases wait.
"""

from __future__ import annotations

import abc
import contextlib
import enum
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from govern.circuit import CircuitLimits


@dataclass(frozen=True)
class DispatchRequest:
    """One run of one circuit: the seeds are fixed up front so a simulator run can be repeated exactly."""

    qasm: str
    shots: int
    seed_transpiler: int
    seed_simulator: int
    timeout_s: float = 300.0
    limits: CircuitLimits = field(default_factory=CircuitLimits)
    """The bounds the circuit was admitted under: the backend's parse scans against them again."""

    def __post_init__(self) -> None:
        if self.shots <= 0:
            raise ValueError(f"shots must be positive, not {self.shots}")
        if self.seed_transpiler < 0 or self.seed_simulator < 0:
            raise ValueError("seeds must not be negative")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")


@dataclass(frozen=True)
class Availability:
    """Whether a device takes jobs now, and how long its queue is: what the fallback rules read."""

    available: bool
    pending_jobs: int | None = None
    queue_minutes: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Execution:
    """A finished run, with what it takes to reproduce and compare it (seeds, calibration, hash)."""

    vendor_job_id: str
    device: str
    counts: dict[str, int]
    transpiled: dict[str, Any]
    seed_transpiler: int
    seed_simulator: int
    calibration_snapshot_id: str | None
    usage_seconds: float | None
    result_hash: str


class JobState(str, enum.Enum):
    """Vendor job states reduced to the ones the worker acts on."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class BackendError(Exception):
    """The job could not run or its result cannot be trusted; the message says why and holds no secrets."""


class VendorJobLost(BackendError):
    """A stored vendor job id this process cannot find (e.g. an in-process simulator job after a restart).

    The worker may resubmit: simulator runs are reproducible from the seeds.
    """


class UnknownBackend(BackendError):
    """No installed plugin provides this vendor or device."""


class Backend(abc.ABC):
    """One device of one vendor. Jobs are asynchronous so the worker can store the job id before waiting.

    `reproducible` says whether the same request gives the same counts (a simulator honouring the
    seeds): only such runs may be queued as reproductions, whose result hash must match the original's.
    """

    key: str
    simulator: bool
    reproducible: bool = False

    @abc.abstractmethod
    def availability(self) -> Availability: ...

    @abc.abstractmethod
    def submit(self, request: DispatchRequest) -> str:
        """Start the run and return the vendor job id as soon as it exists."""

    @abc.abstractmethod
    def status(self, vendor_job_id: str) -> JobState: ...

    @abc.abstractmethod
    def wait(self, vendor_job_id: str, timeout_s: float) -> Execution:
        """The finished run; BackendError on failure, garbage results or timeout (the job is then cancelled)."""

    @abc.abstractmethod
    def cancel(self, vendor_job_id: str) -> None: ...


@contextlib.contextmanager
def translated_errors(action: str, *secrets: str | None) -> Iterator[None]:
    """Turn any vendor or library exception into a BackendError saying what failed.

    With secrets, they are masked in the message and the original exception is not chained, so a
    logged traceback cannot carry them.
    """
    try:
        yield
    except BackendError:
        raise
    except Exception as exc:
        detail = str(exc) or type(exc).__name__
        masked = [secret for secret in secrets if secret]
        if masked:
            for secret in masked:
                detail = detail.replace(secret, "***")
            raise BackendError(f"{action}: {detail}") from None
        raise BackendError(f"{action}: {detail}") from exc


def poll_until_final(
    read_state: Callable[[], JobState], timeout_s: float, *, first_interval_s: float, max_interval_s: float
) -> JobState | None:
    """Poll with growing intervals until the job is final; None when the timeout passes first."""
    deadline = time.monotonic() + timeout_s
    interval = first_interval_s
    while True:
        state = read_state()
        if state.final:
            return state
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(interval, remaining))
        interval = min(interval * 2, max_interval_s)
