"""The `ionq` vendor: IonQ's cloud through qiskit-ionq (`pip install 'govern-engine[ionq]'`).

Every device is remote, `ionq_simulator` included: IonQ has no offline simulator. A backend needs
`credentials["token"]` (an IonQ API key; never read from the environment here, so a job cannot run on
an account nobody chose) and takes `credentials["url"]` for another API endpoint. Nothing is kept in the
process: the seeds travel as job metadata.

The ideal `ionq_simulator` returns probabilities that qiskit-ionq samples into counts here with the
job's `sampler_seed` (our seed_simulator), so its runs are reproducible and free; the QPUs' counts are
their recorded shots (`memory`), since IonQ's rounded probabilities need not sum to the shots.
Untested here past what happens before the network; the token never appears in errors. qiskit-ionq
retries reads of an unreachable API without end (status, wait, a QPU's availability), so those calls
are bounded only by the worker's deadlines.
"""

from __future__ import annotations

import collections
import functools
import warnings
from collections.abc import Mapping
from typing import Any

from govern.backends.base import (
    Availability,
    Backend,
    BackendError,
    DispatchRequest,
    Execution,
    JobState,
    translated_errors,
)
from govern.backends.checks import build_execution
from govern.backends.registry import lists_devices, unknown_device, vendor_sdk
from govern.backends.remote import RemoteBackend, required_credential, seed_labels, seeds_from_labels
from govern.backends.transpile import load_circuit, transpile_for

VENDOR = "ionq"
EXTRA = "ionq"
SIMULATOR_DEVICE = "ionq_simulator"
DEVICE_API_NAMES = {
    "ionq_forte": "qpu.forte-1",
    "ionq_aria_direct": "qpu.aria-1",
    SIMULATOR_DEVICE: "simulator",
}
"""The catalogue's device names (policies/govern/backends/data.json) and IonQ's API names for them."""


def ionq_devices() -> list[str]:
    return list(DEVICE_API_NAMES)


class IonQBackend(RemoteBackend):
    """An IonQ QPU. Every call but transpiling talks to the IonQ API."""

    def __init__(self, device: str, credentials: Mapping[str, str] | None):
        self.device = device
        self.key = f"{VENDOR}/{device}"
        self._token = required_credential(credentials, "token", VENDOR, "an IonQ API key")
        self._url = (credentials or {}).get("url")
        self._sdk = vendor_sdk("qiskit_ionq", EXTRA)
        self.secrets = (self._token,)

    @functools.cached_property
    def _backend(self) -> Any:
        """qiskit-ionq's backend. Building it asks IonQ's public API (IONQ_API_URL or the default, without the
        token, 5 s timeout) for the device's width, and uses 4 qubits when that fails. Its warning about
        qiskit's default optimization level is silenced: transpile_for uses level 1, as IonQ recommends."""
        with translated_errors(f"cannot set up {self.key}", self._token), warnings.catch_warnings():
            warnings.simplefilter("ignore", self._sdk.exceptions.IonQTranspileLevelWarning)
            return self._sdk.IonQProvider(token=self._token, url=self._url).get_backend(DEVICE_API_NAMES[self.device])

    def _remote_job(self, vendor_job_id: str) -> Any:
        with translated_errors(f"cannot find {self.key} job {vendor_job_id}", self._token):
            return self._backend.retrieve_job(vendor_job_id)

    def availability(self) -> Availability:
        """From the device's latest characterization; an unreachable API is reported as unavailable."""
        try:
            with translated_errors(f"cannot read the status of {self.key}", self._token):
                available = bool(self._backend.status())
        except BackendError as exc:
            return Availability(available=False, reason=str(exc))
        return Availability(available=available, reason="" if available else f"{self.key} is not available")

    def submit(self, request: DispatchRequest) -> str:
        circuit = load_circuit(request.qasm, request.limits)
        transpiled = transpile_for(circuit, self._backend, request.seed_transpiler, self.key)
        with translated_errors(f"{self.key} did not accept the job", self._token):
            job = self._backend.run(
                transpiled, shots=request.shots, sampler_seed=request.seed_simulator, extra_metadata=seed_labels(request),
                memory=not self.simulator,
            )
            return str(job.job_id())

    def _why_stopped(self, job: Any, vendor_job_id: str, state: JobState) -> str:
        return f"it is {state.value}"

    def _execution(self, job: Any, vendor_job_id: str) -> Execution:
        result = job.result()
        raw_counts = result.get_counts() if self.simulator else collections.Counter(result.get_memory())
        metadata = self._backend.client.retrieve_job(vendor_job_id).get("metadata") or {}
        seeds = seeds_from_labels(metadata)
        return build_execution(
            vendor_job_id=vendor_job_id, device=self.device, raw_counts=raw_counts, shots=int(metadata["shots"]),
            transpiled={}, seed_transpiler=seeds["transpiler"], seed_simulator=seeds["simulator"],
            calibration_snapshot_id=None, usage_seconds=None,
        )


class IonQSimulatorBackend(IonQBackend):
    """IonQ's ideal cloud simulator: free, and reproducible since counts are sampled with the seed."""

    simulator = True
    reproducible = True


@lists_devices(ionq_devices)
def ionq_backend(device: str, *, credentials: Mapping[str, str] | None = None, **_options: Any) -> Backend:
    """Entry point `govern.backends: ionq`; see the module docstring."""
    if device not in DEVICE_API_NAMES:
        raise unknown_device(VENDOR, device, ionq_devices())
    if device == SIMULATOR_DEVICE:
        return IonQSimulatorBackend(device, credentials)
    return IonQBackend(device, credentials)
