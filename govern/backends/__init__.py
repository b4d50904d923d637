"""Backends: where allowed experiments run, behind one small interface and a plugin registry.

Vendors register a factory under the `govern.backends` entry-point group (the built-ins `local` and
`ibm` do too, in pyproject.toml), so the worker dispatches to every vendor the same way and a new
vendor is an installed package, not a change here. Entry points are read when a backend is asked
for, never at import, and `get_backend` loads only the vendor asked for, so a broken plugin breaks
only its own vendor's dispatches.

A factory is `callable(device, **options) -> Backend`; it is given the options `credentials` and
`ibm_mode` and ignores what it does not use. It may list its devices with `@lists_devices(...)` so
that `known_backends()` and error messages can name them. A vendor whose SDK is an optional extra
imports it with `vendor_sdk` inside the factory, so a missing extra fails that vendor's dispatches
with the pip command, not the import of the plugin.
"""

from __future__ import annotations

import abc
import contextlib
import enum
import functools
import hashlib
import importlib
import importlib.metadata
import json
import numbers
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, TypeVar

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from govern.circuit import CircuitLimits, parse_circuit
from govern.errors import InputError

ENTRY_POINT_GROUP = "govern.backends"
SEED_LABEL = "govern:seed_{}"
_BITSTRING = re.compile(r"^[01]+$")
_NOT_GATES = frozenset({"barrier", "delay"})


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
    transpiled: dict
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


_VENDOR_STATES = {
    "INITIALIZING": JobState.QUEUED,
    "QUEUED": JobState.QUEUED,
    "VALIDATING": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "DONE": JobState.DONE,
    "ERROR": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
}


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
    reproducible: ClassVar[bool] = False

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


Factory = Callable[..., Backend]
FactoryT = TypeVar("FactoryT", bound=Factory)


def lists_devices(devices: Callable[[], Iterable[str]]) -> Callable[[FactoryT], FactoryT]:
    """Attach a device lister to a vendor factory, for `known_backends()` and error messages."""

    def attach(factory: FactoryT) -> FactoryT:
        factory.devices = devices  # type: ignore[attr-defined]
        return factory

    return attach


@functools.cache
def _vendor_entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The installed vendor plugins, found once per process: reading every distribution's metadata takes
    about 13 ms, which every dispatched job would pay again (a plugin installed later needs a restart)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name, entry_point)
    return found


def _load_factory(entry_point: importlib.metadata.EntryPoint) -> Factory:
    plugin = f"backend plugin {entry_point.name!r} ({entry_point.value})"
    try:
        factory = entry_point.load()
    except Exception as exc:
        raise BackendError(f"{plugin} cannot be loaded: {exc}") from exc
    if not callable(factory):
        raise BackendError(f"{plugin} is not a factory")
    return factory


def get_backend(
    vendor: str, device: str, *, credentials: Mapping[str, str] | None = None, ibm_mode: str = "local"
) -> Backend:
    """The backend for `vendor/device`, from the plugin that registered the vendor."""
    entry_points = _vendor_entry_points()
    if vendor not in entry_points:
        installed = ", ".join(sorted(entry_points)) or "none"
        raise UnknownBackend(f"unknown backend vendor {vendor!r}; installed vendors: {installed}")
    factory = _load_factory(entry_points[vendor])
    try:
        backend = factory(device, credentials=credentials, ibm_mode=ibm_mode)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"backend plugin {vendor!r} cannot provide device {device!r}: {exc}") from exc
    if not isinstance(backend, Backend):
        raise BackendError(f"backend plugin {vendor!r} returned {type(backend).__name__}, not a Backend")
    return backend


def known_backends() -> list[str]:
    """Every `vendor/device` the installed plugins list; `vendor/*` for a plugin that does not list devices."""
    keys = []
    for vendor, entry_point in _vendor_entry_points().items():
        devices = getattr(_load_factory(entry_point), "devices", None)
        if devices is None:
            keys.append(f"{vendor}/*")
        else:
            keys.extend(f"{vendor}/{device}" for device in devices())
    return sorted(keys)


def unknown_device(vendor: str, device: str, devices: Iterable[str]) -> UnknownBackend:
    return UnknownBackend(f"unknown {vendor} device {device!r}; {vendor} devices: {', '.join(sorted(devices))}")


def vendor_sdk(module: str, extra: str) -> ModuleType:
    """Import a vendor SDK that an optional extra installs; a BackendError with the pip command if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendError(f"{module} is not installed ({exc}); install it with: pip install 'govern[{extra}]'") from None


def required_credential(credentials: Mapping[str, str] | None, name: str, needed_by: str, what: str) -> str:
    """A credential the vendor cannot work without; the error names the key and what it is, never a value."""
    value = (credentials or {}).get(name)
    if not value:
        raise BackendError(f"{needed_by} needs credentials[{name!r}] ({what})")
    return value


# What the built-in backends share; a plugin may use it too.


def job_state(vendor_status: Any) -> JobState:
    """Qiskit's JobStatus enum and IBM Runtime's status strings, as a JobState."""
    name = str(getattr(vendor_status, "name", vendor_status)).upper()
    if name not in _VENDOR_STATES:
        raise BackendError(f"unexpected job status {vendor_status!r}")
    return _VENDOR_STATES[name]


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


def seed_labels(request: DispatchRequest) -> dict[str, str]:
    """The seeds as vendor job labels (tags, metadata), so a stateless cloud backend can read them back."""
    return {
        SEED_LABEL.format("transpiler"): str(request.seed_transpiler),
        SEED_LABEL.format("simulator"): str(request.seed_simulator),
    }


def seeds_from_labels(labels: Mapping[str, str]) -> dict[str, int]:
    """`{"transpiler": n, "simulator": n}` from the labels `seed_labels` wrote."""
    seeds = {}
    for kind in ("transpiler", "simulator"):
        value = str(labels.get(SEED_LABEL.format(kind), ""))
        if not value.isdigit():
            raise BackendError(f"the job's labels do not record its seed_{kind} (was it submitted by govern?)")
        seeds[kind] = int(value)
    return seeds


def load_circuit(qasm: str, limits: CircuitLimits | None = None) -> QuantumCircuit:
    """Parse the submitted OpenQASM 2 or 3, within its limits when given; a circuit that measures nothing has no
    counts to return."""
    try:
        circuit = parse_circuit(qasm, "dispatch request", limits=limits)
    except InputError as exc:
        raise BackendError(str(exc)) from exc
    if circuit.num_clbits == 0:
        raise BackendError("the circuit has no classical bits, so there are no counts to return")
    return circuit


def transpile_for(circuit: QuantumCircuit, target_backend: Any, seed_transpiler: int, key: str) -> QuantumCircuit:
    """Map the circuit onto the device (layout, routing, basis gates) at optimization level 1, seeded.

    The pass manager gets the device's Target, read once, rather than the backend: Aer builds a new Target
    on every read of `.target`, which the pass manager does per gate name when given the backend (about
    200 ms of every job on a Bell pair); the transpiled circuit is the same."""
    target = target_backend.target
    width = target.num_qubits
    if width is not None and circuit.num_qubits > width:
        raise BackendError(f"the circuit needs {circuit.num_qubits} qubits; {key} has {width}")
    with translated_errors(f"cannot transpile the circuit for {key}"):
        pass_manager = generate_preset_pass_manager(optimization_level=1, target=target, seed_transpiler=seed_transpiler)
        return pass_manager.run(circuit)


def transpiled_metrics(circuit: QuantumCircuit) -> dict:
    """The circuit as the device runs it: what cost, fidelity and comparisons across runs depend on."""
    used = sorted(
        {
            circuit.find_bit(qubit).index
            for instruction in circuit.data
            if instruction.operation.name not in _NOT_GATES
            for qubit in instruction.qubits
        }
    )
    return {
        "qubits": len(used),
        "physicalQubits": used,
        "depth": circuit.depth(),
        "size": circuit.size(),
        "twoQubitDepth": circuit.depth(lambda instruction: len(instruction.qubits) == 2),
        "ops": {name: int(count) for name, count in circuit.count_ops().items()},
    }


def checked_counts(raw: Any, shots: int) -> dict[str, int]:
    """Counts as `{bitstring: n}` with registers joined (Aer's spaces removed), or BackendError for garbage."""
    if not isinstance(raw, Mapping) or not raw:
        raise BackendError(f"the backend returned no counts (got {type(raw).__name__})")
    counts: dict[str, int] = {}
    for outcome, count in raw.items():
        bits = outcome.replace(" ", "") if isinstance(outcome, str) else None
        if bits is None or not _BITSTRING.match(bits):
            raise BackendError(f"the backend returned an outcome that is not a bitstring: {outcome!r}")
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise BackendError(f"the backend returned a count that is not a non-negative integer: {count!r}")
        counts[bits] = counts.get(bits, 0) + int(count)
    if len({len(bits) for bits in counts}) != 1:
        raise BackendError("the backend returned outcomes of different widths")
    if sum(counts.values()) != shots:
        raise BackendError(f"the backend returned {sum(counts.values())} outcomes for {shots} shots")
    return dict(sorted(counts.items()))


def result_hash(
    *, counts: Mapping[str, int], device: str, shots: int, seed_transpiler: int, seed_simulator: int,
    calibration_snapshot_id: str | None,
) -> str:
    """sha256 over canonical JSON of what determines a simulator's result: equal runs hash equal."""
    document = {
        "counts": dict(sorted(counts.items())),
        "device": device,
        "shots": shots,
        "seedTranspiler": seed_transpiler,
        "seedSimulator": seed_simulator,
        "calibrationSnapshotId": calibration_snapshot_id,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def build_execution(
    *, vendor_job_id: str, device: str, raw_counts: Any, shots: int, transpiled: dict, seed_transpiler: int,
    seed_simulator: int, calibration_snapshot_id: str | None, usage_seconds: float | None,
) -> Execution:
    """An Execution from a vendor's raw counts, checked and hashed."""
    counts = checked_counts(raw_counts, shots)
    return Execution(
        vendor_job_id=vendor_job_id,
        device=device,
        counts=counts,
        transpiled=transpiled,
        seed_transpiler=seed_transpiler,
        seed_simulator=seed_simulator,
        calibration_snapshot_id=calibration_snapshot_id,
        usage_seconds=usage_seconds,
        result_hash=result_hash(
            counts=counts, device=device, shots=shots, seed_transpiler=seed_transpiler,
            seed_simulator=seed_simulator, calibration_snapshot_id=calibration_snapshot_id,
        ),
    )


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


class RemoteBackend(Backend):
    """A cloud device: every call asks the vendor and nothing is kept in the process, so a job id stored
    by the caller can be waited on after a restart.

    Subclasses find a vendor job, say why one stopped and read a finished one's result; this class reads
    statuses, waits (cancelling on timeout) and cancels, with `secrets` masked in every error.
    """

    simulator = False
    secrets: tuple[str | None, ...] = ()

    @abc.abstractmethod
    def _remote_job(self, vendor_job_id: str) -> Any:
        """The vendor's job, with status() and cancel()."""

    @abc.abstractmethod
    def _why_stopped(self, job: Any, vendor_job_id: str, state: JobState) -> str: ...

    @abc.abstractmethod
    def _execution(self, job: Any, vendor_job_id: str) -> Execution:
        """The finished run's result, seeds and metrics (vendor errors are translated by the caller)."""

    def status(self, vendor_job_id: str) -> JobState:
        job = self._remote_job(vendor_job_id)
        with translated_errors(f"cannot read the status of {self.key} job {vendor_job_id}", *self.secrets):
            return job_state(job.status())

    def wait(self, vendor_job_id: str, timeout_s: float) -> Execution:
        """Poll the job's status (queues on real devices are long, so the interval grows to 30 s)."""
        job = self._remote_job(vendor_job_id)
        with translated_errors(f"cannot read the status of {self.key} job {vendor_job_id}", *self.secrets):
            state = poll_until_final(lambda: job_state(job.status()), timeout_s, first_interval_s=2, max_interval_s=30)
        if state is None:
            timed_out = f"{self.key} job {vendor_job_id} timed out after {timeout_s:g} s"
            try:
                self.cancel(vendor_job_id)
            except BackendError as exc:  # it may still run, and be billed: the caller must know
                raise BackendError(f"{timed_out}; cancelling it failed: {exc}") from None
            raise BackendError(f"{timed_out} and was cancelled")
        if state is not JobState.DONE:
            with translated_errors(f"cannot read why {self.key} job {vendor_job_id} stopped", *self.secrets):
                why = self._why_stopped(job, vendor_job_id, state)
            raise BackendError(f"{self.key} job {vendor_job_id} did not finish: {why}")
        with translated_errors(f"cannot read the result of {self.key} job {vendor_job_id}", *self.secrets):
            return self._execution(job, vendor_job_id)

    def cancel(self, vendor_job_id: str) -> None:
        job = self._remote_job(vendor_job_id)
        with translated_errors(f"cannot cancel {self.key} job {vendor_job_id}", *self.secrets):
            job.cancel()


@dataclass(frozen=True)
class _InProcessJob:
    handle: Any
    backend_key: str
    request: DispatchRequest
    transpiled: dict
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
