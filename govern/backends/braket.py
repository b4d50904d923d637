"""The `aws-braket` vendor: Amazon Braket through qiskit-braket-provider (`pip install 'govern-engine[braket]'`).

- `braket_local_sv` is the Braket SDK's local state-vector simulator, run in this process: no network,
  no credentials, 26 qubits. It cannot be seeded: amazon-braket-default-simulator samples shots from an
  unseeded NumPy generator and neither LocalSimulator nor the provider passes a seed down. Its runs are
  therefore not reproducible (`reproducible = False`, so reproductions are refused) and the
  seed_simulator recorded with a result is the one requested, not one the simulator used.
- the catalogue's cloud devices (`CLOUD_DEVICE_ARNS`) run on Amazon Braket with the AWS credentials
  `aws_access_key_id` and `aws_secret_access_key` (and `aws_session_token` for temporary ones); the
  region is the device's, or `region` (default us-east-1) for a regionless ARN such as SV1's. Nothing is
  kept in the process: the seeds travel as task tags. Untested here past the credential checks (no
  network); secrets never appear in errors.

The SDK is imported when a backend is asked for, so a missing extra fails only this vendor's dispatches.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from qiskit import QuantumCircuit

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
from govern.backends.in_process import InProcessBackend
from govern.backends.registry import lists_devices, unknown_device, vendor_sdk
from govern.backends.remote import RemoteBackend, required_credential, seed_labels, seeds_from_labels
from govern.backends.transpile import load_circuit, transpile_for

VENDOR = "aws-braket"
EXTRA = "braket"
LOCAL_DEVICE = "braket_local_sv"
LOCAL_SIMULATOR = "braket_sv"
DEFAULT_REGION = "us-east-1"
CLOUD_DEVICE_ARNS = {
    "ionq_aria": "arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1",
    "ionq_forte_braket": "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1",
    "rigetti_ankaa_3": "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3",
    "iqm_garnet": "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet",
    "braket_sv1": "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
}
"""The catalogue's device names and the Braket devices they are (policies/govern/backends/data.json)."""


def braket_devices() -> list[str]:
    return [LOCAL_DEVICE, *CLOUD_DEVICE_ARNS]


def _provider() -> Any:
    return vendor_sdk("qiskit_braket_provider", EXTRA)


@functools.cache
def _local_simulator() -> Any:
    """The provider's backend over the local simulator, built once per process (the SDK import takes seconds)."""
    return _provider().BraketLocalBackend(name=LOCAL_SIMULATOR)


class BraketLocalBackend(InProcessBackend):
    """The local state-vector simulator; runs are synchronous, so a job is finished when submit returns."""

    reproducible = False

    def __init__(self) -> None:
        self.device = LOCAL_DEVICE
        self.key = f"{VENDOR}/{LOCAL_DEVICE}"

    def _target(self) -> Any:
        return _local_simulator()

    def _calibration_snapshot_id(self) -> str | None:
        return None

    def _start(self, transpiled: QuantumCircuit, request: DispatchRequest) -> Any:
        # verbatim: run the circuit transpile_for produced, not one the provider transpiles again
        return self._target().run(transpiled, shots=request.shots, verbatim=True)

    def _raw_counts(self, result: Any) -> Any:
        return result.get_counts(0)


class BraketCloudBackend(RemoteBackend):
    """A device on Amazon Braket. SV1 simulates too, but remotely and billed: it is never resubmitted unasked."""

    def __init__(self, device: str, credentials: Mapping[str, str] | None):
        self.device = device
        self.key = f"{VENDOR}/{device}"
        self._arn = CLOUD_DEVICE_ARNS[device]
        self._access_key_id = required_credential(credentials, "aws_access_key_id", VENDOR, "an AWS access key id")
        self._secret_access_key = required_credential(
            credentials, "aws_secret_access_key", VENDOR, "the AWS secret access key"
        )
        self._session_token = (credentials or {}).get("aws_session_token")
        self._region = self._arn.split(":")[3] or (credentials or {}).get("region") or DEFAULT_REGION
        self._provider = _provider()
        self.secrets = (self._secret_access_key, self._session_token)

    @functools.cached_property
    def _session(self) -> Any:
        boto3 = vendor_sdk("boto3", EXTRA)
        aws = vendor_sdk("braket.aws", EXTRA)
        with translated_errors(f"cannot open an AWS session for {self.key}", *self.secrets):
            return aws.AwsSession(boto_session=boto3.Session(
                aws_access_key_id=self._access_key_id, aws_secret_access_key=self._secret_access_key,
                aws_session_token=self._session_token, region_name=self._region,
            ))

    @functools.cached_property
    def _aws_device(self) -> Any:
        """The device as AWS describes it now; reading it is the first network call."""
        aws = vendor_sdk("braket.aws", EXTRA)
        with translated_errors(f"cannot look up {self.key} ({self._arn})", *self.secrets):
            return aws.AwsDevice(self._arn, aws_session=self._session)

    @functools.cached_property
    def _backend(self) -> Any:
        with translated_errors(f"cannot read the target of {self.key}", *self.secrets):
            return self._provider.BraketAwsBackend(device=self._aws_device)

    def _aws_task(self, vendor_job_id: str) -> Any:
        """The task on this backend's credentials (the provider's own lookup would use the machine's)."""
        return vendor_sdk("braket.aws", EXTRA).AwsQuantumTask(vendor_job_id, aws_session=self._session)

    def _remote_job(self, vendor_job_id: str) -> Any:
        with translated_errors(f"cannot find {self.key} task {vendor_job_id}", *self.secrets):
            return self._provider.BraketQuantumTask(
                task_id=vendor_job_id, backend=self._backend, tasks=[self._aws_task(vendor_job_id)]
            )

    def availability(self) -> Availability:
        """From the device's status and normal-priority queue; an unreachable AWS is reported as unavailable."""
        normal_queue = vendor_sdk("braket.aws.queue_information", EXTRA).QueueType.NORMAL
        try:
            with translated_errors(f"cannot read the status of {self.key}", *self.secrets):
                device = self._aws_device
                available = bool(device.is_available)
                queued = str(device.queue_depth().quantum_tasks.get(normal_queue, ""))
        except BackendError as exc:
            return Availability(available=False, reason=str(exc))
        digits = queued.lstrip(">")  # Braket reports a long queue as e.g. ">4000"
        return Availability(
            available=available,
            pending_jobs=int(digits) if digits.isdigit() else None,
            reason="" if available else f"{self.key} is {device.status} or outside its availability window",
        )

    def submit(self, request: DispatchRequest) -> str:
        """Transpile for the device's target and start one task; a QPU runs the transpiled circuit verbatim."""
        circuit = load_circuit(request.qasm, request.limits)
        transpiled = transpile_for(circuit, self._backend, request.seed_transpiler, self.key)
        qpu = ":device/qpu/" in self._arn
        with translated_errors(f"{self.key} did not accept the task", *self.secrets):
            job = self._backend.run(transpiled, shots=request.shots, verbatim=qpu, tags=seed_labels(request))
            return str(job.job_id())

    def _why_stopped(self, job: Any, vendor_job_id: str, state: JobState) -> str:
        return self._aws_task(vendor_job_id).metadata().get("failureReason") or f"it is {state.value}"

    def _execution(self, job: Any, vendor_job_id: str) -> Execution:
        """Counts in Qiskit's bit order (the provider converts); Braket keeps no transpiled circuit or calibration id."""
        result = job.result()
        seeds = seeds_from_labels(self._aws_task(vendor_job_id).metadata().get("tags") or {})
        return build_execution(
            vendor_job_id=vendor_job_id, device=self.device, raw_counts=result.get_counts(0),
            shots=int(result.results[0].shots), transpiled={}, seed_transpiler=seeds["transpiler"],
            seed_simulator=seeds["simulator"], calibration_snapshot_id=None, usage_seconds=None,
        )


@lists_devices(braket_devices)
def braket_backend(device: str, *, credentials: Mapping[str, str] | None = None, **_options: Any) -> Backend:
    """Entry point `govern.backends: aws-braket`; see the module docstring for the local and cloud devices."""
    if device == LOCAL_DEVICE:
        _provider()
        return BraketLocalBackend()
    if device in CLOUD_DEVICE_ARNS:
        return BraketCloudBackend(device, credentials)
    raise unknown_device(VENDOR, device, braket_devices())
