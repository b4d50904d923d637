"""The `local` vendor: Qiskit Aer in this process, ideal or with a real device's noise.

`aer_simulator` is the ideal statevector simulator, `aer_simulator_mps` the matrix-product-state one
for wide, lightly entangled circuits, and `fake_<name>` (fake_brisbane, fake_torino, ...) runs Aer with
the noise model, coupling map and basis gates of an IBM device's calibration snapshot as shipped in
qiskit-ibm-runtime's fake provider. No network, no credentials, reproducible from the seeds.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from govern.backends.base import Backend, BackendError, DispatchRequest
from govern.backends.in_process import InProcessBackend
from govern.backends.registry import lists_devices, unknown_device

VENDOR = "local"
IDEAL_SIMULATORS = {"aer_simulator": {}, "aer_simulator_mps": {"method": "matrix_product_state"}}


@functools.cache
def fake_device_names() -> tuple[str, ...]:
    """The fake provider's devices (`fake_<name>`), listed once per process."""
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # some fakes warn that their error rates are not typical
        return tuple(sorted(backend.name for backend in FakeProviderForBackendV2().backends()))


@functools.cache
def fake_backend(name: str) -> Any:
    """A fake IBM device, built on demand and kept: its noise model is expensive to derive."""
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return FakeProviderForBackendV2().backend(name)


def calibration_snapshot_id(fake: Any) -> str:
    """`fake_brisbane@<last calibration update>`: which snapshot of the device's errors a noisy run used."""
    properties = fake.properties()
    updated = getattr(properties, "last_update_date", None)
    return f"{fake.name}@{updated.isoformat() if updated else 'unknown'}"


def local_devices() -> list[str]:
    return [*IDEAL_SIMULATORS, *fake_device_names()]


@functools.cache
def _simulator(device: str) -> AerSimulator:
    if device in IDEAL_SIMULATORS:
        return AerSimulator(**IDEAL_SIMULATORS[device])
    return AerSimulator.from_backend(fake_backend(device))


class AerBackend(InProcessBackend):
    """One local device; the simulator is built on first use and shared by every job in the process."""

    def __init__(self, device: str):
        self.device = device
        self.key = f"{VENDOR}/{device}"

    def _target(self) -> AerSimulator:
        return _simulator(self.device)

    def _calibration_snapshot_id(self) -> str | None:
        return None if self.device in IDEAL_SIMULATORS else calibration_snapshot_id(fake_backend(self.device))

    def _start(self, transpiled: QuantumCircuit, request: DispatchRequest) -> Any:
        return self._target().run(transpiled, shots=request.shots, seed_simulator=request.seed_simulator)

    def _raw_counts(self, result: Any) -> Any:
        if not result.success:
            reasons = "; ".join(str(experiment.status) for experiment in result.results) or str(result.status)
            raise BackendError(f"{self.key} simulation failed: {reasons}")
        return result.get_counts(0)


@lists_devices(local_devices)
def local_backend(device: str, **_options: Any) -> Backend:
    """Entry point `govern.backends: local`; credentials mean nothing here."""
    if device not in IDEAL_SIMULATORS and (not device.startswith("fake_") or device not in fake_device_names()):
        raise unknown_device(VENDOR, device, local_devices())
    return AerBackend(device)
