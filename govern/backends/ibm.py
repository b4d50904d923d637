"""The `ibm` vendor: IBM Quantum devices through qiskit-ibm-runtime's SamplerV2.

Two modes, chosen by the plugin's own config (`IbmConfig.mode`, from the setting `ibm_mode`):

- `local` runs SamplerV2 in qiskit-ibm-runtime's local testing mode against the fake backend of the
  same name (ibm_brisbane -> FakeBrisbane): the device's real calibration snapshot, simulated here.
  This is the only mode the test suite can exercise, since nothing outside this machine is reachable.
- `cloud` submits to IBM Quantum Platform with `credentials["token"]` (and `credentials["instance"]`
  when given). It keeps no state in the process: the caller stores the job id, and the seeds travel
  as job tags, so `wait` works after a restart. Untested here (no network); the token never appears
  in errors.

SamplerV2 is deprecated in favour of the client-side sampler as of qiskit-ibm-runtime 0.50; it is
still the primitive that serves both modes, so its deprecation warning is silenced where it is built.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from qiskit import QuantumCircuit
from qiskit.providers.exceptions import QiskitBackendNotFoundError
from qiskit_ibm_runtime import QiskitRuntimeService, SamplerV2
from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

from govern.backends.aer import calibration_snapshot_id, fake_backend, fake_device_names
from govern.backends.base import (
    Availability,
    Backend,
    BackendError,
    DispatchRequest,
    Execution,
    JobState,
    UnknownBackend,
    VendorJobLost,
    translated_errors,
)
from govern.backends.checks import build_execution
from govern.backends.in_process import InProcessBackend
from govern.backends.registry import configured_by, lists_devices, unknown_device
from govern.backends.remote import RemoteBackend, required_credential, seed_labels, seeds_from_labels
from govern.backends.transpile import load_circuit, transpile_for, transpiled_metrics

if TYPE_CHECKING:
    from govern.settings import Settings

VENDOR = "ibm"
CHANNEL = "ibm_quantum_platform"
IbmMode = Literal["local", "cloud"]
MODES: tuple[str, ...] = get_args(IbmMode)


@dataclass(frozen=True)
class IbmConfig:
    """The `ibm` plugin's settings: which of the two modes its devices run in."""

    mode: IbmMode = "local"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BackendError(f"unknown ibm_mode {self.mode!r}; choose from {', '.join(MODES)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> IbmConfig:
        return cls(mode=settings.ibm_mode)


def ibm_devices() -> list[str]:
    """Devices local mode can simulate: `ibm_<name>` for each fake backend `fake_<name>`."""
    return [name.replace("fake_", "ibm_", 1) for name in fake_device_names()]


def _sampler(mode: Any, options: dict[str, Any]) -> SamplerV2:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The SamplerV2 class is deprecated", category=DeprecationWarning)
        return SamplerV2(mode=mode, options=options)


def _joined_counts(result: Any) -> Any:
    """Counts over all classical registers of the one PubResult, joined as Aer joins them."""
    return result[0].join_data().get_counts()


class IbmLocalBackend(InProcessBackend):
    """An IBM device simulated by SamplerV2's local testing mode on its fake backend."""

    def __init__(self, device: str):
        self.device = device
        self.key = f"{VENDOR}/{device}"
        self._fake_name = device.replace("ibm_", "fake_", 1)

    def _target(self) -> Any:
        return fake_backend(self._fake_name)

    def _calibration_snapshot_id(self) -> str | None:
        return calibration_snapshot_id(self._target())

    def _start(self, transpiled: QuantumCircuit, request: DispatchRequest) -> Any:
        if request.seed_simulator == 0:
            # qiskit-ibm-runtime's local mode drops a falsy seed, so the run would silently be unseeded.
            raise BackendError(f"{self.key} in local mode cannot honour seed_simulator 0; use a positive seed")
        sampler = _sampler(self._target(), {"simulator": {"seed_simulator": request.seed_simulator}})
        return sampler.run([transpiled], shots=request.shots)

    def _raw_counts(self, result: Any) -> Any:
        return _joined_counts(result)


class IbmCloudBackend(RemoteBackend):
    """A real IBM Quantum device on IBM Quantum Platform."""

    def __init__(self, device: str, credentials: Mapping[str, str] | None):
        self.device = device
        self.key = f"{VENDOR}/{device}"
        self._token = required_credential(credentials, "token", "ibm cloud mode", "an IBM Quantum Platform API key")
        self._instance = (credentials or {}).get("instance")
        self.secrets = (self._token,)

    @functools.cached_property
    def _service(self) -> QiskitRuntimeService:
        with translated_errors("cannot connect to IBM Quantum Platform", self._token):
            return QiskitRuntimeService(channel=CHANNEL, token=self._token, instance=self._instance)

    def _device(self) -> Any:
        with translated_errors(f"cannot look up {self.key}", self._token):
            try:
                return self._service.backend(self.device)
            except QiskitBackendNotFoundError:
                raise UnknownBackend(f"IBM Quantum Platform has no device {self.device!r} for this account") from None

    def _remote_job(self, vendor_job_id: str) -> Any:
        with translated_errors(f"cannot find {self.key} job {vendor_job_id}", self._token):
            try:
                return self._service.job(vendor_job_id)
            except RuntimeJobNotFound:
                raise VendorJobLost(f"IBM Quantum Platform has no job {vendor_job_id!r} for this account") from None

    def availability(self) -> Availability:
        """From the device's status; an unreachable platform or device is reported as unavailable."""
        try:
            with translated_errors(f"cannot read the status of {self.key}", self._token):
                status = self._device().status()
        except BackendError as exc:
            return Availability(available=False, reason=str(exc))
        return Availability(
            available=bool(status.operational),
            pending_jobs=int(status.pending_jobs),
            reason="" if status.operational else str(status.status_msg),
        )

    def submit(self, request: DispatchRequest) -> str:
        """Transpile for the device's target and start a SamplerV2 job; the request timeout caps execution time."""
        circuit = load_circuit(request.qasm, request.limits)
        device = self._device()
        transpiled = transpile_for(circuit, device, request.seed_transpiler, self.key)
        options = {
            "max_execution_time": max(1, math.ceil(request.timeout_s)),
            "environment": {"job_tags": [f"{name}={value}" for name, value in seed_labels(request).items()]},
        }
        with translated_errors(f"{self.key} did not accept the job", self._token):
            return str(_sampler(device, options).run([transpiled], shots=request.shots).job_id())

    def _why_stopped(self, job: Any, vendor_job_id: str, state: JobState) -> str:
        return job.error_message() if state is JobState.FAILED else "it was cancelled"

    def _execution(self, job: Any, vendor_job_id: str) -> Execution:
        result = job.result()
        raw_counts = _joined_counts(result)
        shots = int(result[0].join_data().num_shots)
        seeds = seeds_from_labels(dict(tag.split("=", 1) for tag in job.tags or () if "=" in tag))
        properties = job.properties()
        usage = job.usage()
        transpiled = _submitted_circuit_metrics(job.inputs)
        updated = getattr(properties, "last_update_date", None)
        return build_execution(
            vendor_job_id=vendor_job_id, device=self.device, raw_counts=raw_counts, shots=shots,
            transpiled=transpiled, seed_transpiler=seeds["transpiler"], seed_simulator=seeds["simulator"],
            calibration_snapshot_id=f"{self.device}@{updated.isoformat()}" if updated else None,
            usage_seconds=float(usage) if usage is not None else None,
        )


def _submitted_circuit_metrics(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics of the transpiled circuit as the platform stored it; empty if it does not give it back."""
    pubs = inputs.get("pubs") or []
    first = pubs[0] if pubs else None
    circuit = first[0] if isinstance(first, (list, tuple)) and first else first
    return transpiled_metrics(circuit) if isinstance(circuit, QuantumCircuit) else {}


@lists_devices(ibm_devices)
@configured_by(IbmConfig)
def ibm_backend(
    device: str, *, credentials: Mapping[str, str] | None = None, config: IbmConfig | None = None, **_options: Any
) -> Backend:
    """Entry point `govern.backends: ibm`; see the module docstring for the two modes."""
    if (config or IbmConfig()).mode == "cloud":
        return IbmCloudBackend(device, credentials)
    if device not in ibm_devices():
        raise unknown_device(VENDOR, device, ibm_devices())
    return IbmLocalBackend(device)
