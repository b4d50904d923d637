"""The backend registry and the built-in backends, run for real on Qiskit Aer and IBM's fake devices.

Only IBM's local testing mode can run here (nothing outside this machine is reachable); cloud mode is
checked only for what it does before the network: credentials, and keeping the token out of errors.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import threading
import tomllib
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from govern.backends.base import (
    Availability,
    Backend,
    BackendError,
    DispatchRequest,
    Execution,
    JobState,
    UnknownBackend,
    VendorJobLost,
)
from govern.backends.checks import build_execution, checked_counts, job_state
from govern.backends.registry import (
    ENTRY_POINT_GROUP,
    _vendor_entry_points,
    get_backend,
    known_backends,
    lists_devices,
    unknown_device,
)
from govern.backends.transpile import load_circuit, transpile_for
from govern.circuit import CircuitLimits
from govern.settings import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

BELL_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""

BELL_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""

GHZ3_TWO_REGISTERS = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg low[2];
creg high[1];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q[0] -> low[0];
measure q[1] -> low[1];
measure q[2] -> high[0];
"""


def wide_circuit(qubits: int) -> str:
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{qubits}];\ncreg c[{qubits}];\nh q[0];\nmeasure q -> c;\n'


def request(qasm: str = BELL_QASM2, *, shots: int = 1024, seed_simulator: int = 7, **options) -> DispatchRequest:
    return DispatchRequest(qasm=qasm, shots=shots, seed_transpiler=11, seed_simulator=seed_simulator, **options)


def run(backend: Backend, dispatch: DispatchRequest) -> Execution:
    return backend.wait(backend.submit(dispatch), timeout_s=60)


@pytest.fixture(scope="module")
def noisy_runs() -> dict[str, Execution]:
    """fake_brisbane runs shared by the noise and reproducibility tests: its noise model takes seconds to build."""
    backend = get_backend("local", "fake_brisbane")
    return {
        "first": run(backend, request(seed_simulator=7)),
        "again": run(backend, request(seed_simulator=7)),
        "other seed": run(backend, request(seed_simulator=8)),
    }


# The registry


def test_builtins_register_through_the_same_entry_points_as_plugins():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][ENTRY_POINT_GROUP]
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert declared == {
        "local": "govern.backends.aer:local_backend",
        "ibm": "govern.backends.ibm:ibm_backend",
        "aws-braket": "govern.backends.braket:braket_backend",
        "ionq": "govern.backends.ionq:ionq_backend",
    }
    assert installed.items() >= declared.items()


def test_known_backends_lists_local_and_ibm_devices():
    keys = known_backends()
    for key in ("local/aer_simulator", "local/aer_simulator_mps", "local/fake_brisbane", "local/fake_torino",
                "ibm/ibm_brisbane", "ibm/ibm_fez"):
        assert key in keys


@pytest.mark.parametrize(
    ("vendor", "device", "listed"),
    [("nowhere", "qpu", "installed vendors: "), ("local", "fake_nowhere", "aer_simulator"),
     ("ibm", "ibm_nowhere", "ibm_brisbane"), ("local", "ibm_brisbane", "fake_brisbane")],
)
def test_unknown_backend_names_what_exists(vendor, device, listed):
    with pytest.raises(UnknownBackend, match=listed) as raised:
        get_backend(vendor, device)
    assert repr(device) in str(raised.value) or repr(vendor) in str(raised.value)


class ZerosBackend(Backend):
    """A third party's backend, as small as the interface allows: every shot measures zeros."""

    simulator = True

    def __init__(self, device: str):
        self.device = device
        self.key = f"acme/{device}"
        self._requests: dict[str, DispatchRequest] = {}

    def availability(self) -> Availability:
        return Availability(available=True, pending_jobs=len(self._requests))

    def submit(self, request: DispatchRequest) -> str:
        vendor_job_id = f"acme-{len(self._requests)}"
        self._requests[vendor_job_id] = request
        return vendor_job_id

    def status(self, vendor_job_id: str) -> JobState:
        return JobState.DONE

    def wait(self, vendor_job_id: str, timeout_s: float) -> Execution:
        request = self._requests.pop(vendor_job_id)
        return build_execution(
            vendor_job_id=vendor_job_id, device=self.device, raw_counts={"00": request.shots}, shots=request.shots,
            transpiled={}, seed_transpiler=request.seed_transpiler, seed_simulator=request.seed_simulator,
            calibration_snapshot_id=None, usage_seconds=None,
        )

    def cancel(self, vendor_job_id: str) -> None:
        self._requests.pop(vendor_job_id, None)


@lists_devices(lambda: ["zeros"])
def acme_backend(device: str, **_options) -> Backend:
    if device != "zeros":
        raise unknown_device("acme", device, ["zeros"])
    return ZerosBackend(device)


@contextlib.contextmanager
def rescanned_plugins() -> Iterator[None]:
    """Plugins are found once per process; a test that installs one makes the registry look again, before
    and after."""
    _vendor_entry_points.cache_clear()
    try:
        yield
    finally:
        _vendor_entry_points.cache_clear()


@pytest.fixture
def acme_plugin(monkeypatch):
    """Install `acme` as a third-party distribution would: one more entry point in the group."""
    real_entry_points = importlib.metadata.entry_points
    plugin = importlib.metadata.EntryPoint(name="acme", value=f"{__name__}:acme_backend", group=ENTRY_POINT_GROUP)

    def entry_points(**selection):
        found = real_entry_points(**selection)
        if selection.get("group") == ENTRY_POINT_GROUP:
            return importlib.metadata.EntryPoints([*found, plugin])
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    with rescanned_plugins():
        yield


def test_a_third_party_plugin_is_found_through_its_entry_point(acme_plugin):
    assert "acme/zeros" in known_backends()
    backend = get_backend("acme", "zeros", credentials={"token": "unused"})
    assert run(backend, request(shots=10)).counts == {"00": 10}
    with pytest.raises(UnknownBackend, match="acme devices: zeros"):
        get_backend("acme", "ones")


def test_a_broken_plugin_fails_only_its_own_vendor(monkeypatch):
    real_entry_points = importlib.metadata.entry_points
    broken = importlib.metadata.EntryPoint(name="broken", value="no_such_module:factory", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        importlib.metadata, "entry_points",
        lambda **selection: importlib.metadata.EntryPoints([*real_entry_points(**selection), broken]),
    )
    with rescanned_plugins():
        with pytest.raises(BackendError, match="'broken'.*cannot be loaded"):
            get_backend("broken", "anything")
        assert get_backend("local", "aer_simulator").key == "local/aer_simulator"


def test_plugins_are_found_once_per_process_not_once_per_job(monkeypatch):
    real_entry_points, scans = importlib.metadata.entry_points, []
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **selection: scans.append(selection) or real_entry_points(**selection))
    with rescanned_plugins():
        get_backend("local", "aer_simulator")
        get_backend("local", "fake_brisbane")
    assert len(scans) == 1


# Local Aer backends


@pytest.mark.parametrize("device", ["aer_simulator", "aer_simulator_mps"])
@pytest.mark.parametrize("qasm", [BELL_QASM2, BELL_QASM3], ids=["qasm2", "qasm3"])
def test_ideal_bell_pair_measures_only_00_and_11(device, qasm):
    backend = get_backend("local", device)
    assert backend.simulator and backend.availability().available
    execution = run(backend, request(qasm))
    assert set(execution.counts) == {"00", "11"} and sum(execution.counts.values()) == 1024
    assert execution.device == device
    assert execution.calibration_snapshot_id is None and execution.usage_seconds is None
    assert execution.transpiled["qubits"] == 2 and execution.transpiled["ops"]["cx"] == 1
    assert {"depth", "size", "twoQubitDepth", "physicalQubits"} <= set(execution.transpiled)


def test_ideal_runs_repeat_exactly_from_their_seeds():
    backend = get_backend("local", "aer_simulator")
    first, again = run(backend, request(seed_simulator=3)), run(backend, request(seed_simulator=3))
    assert first.counts == again.counts and first.result_hash == again.result_hash
    assert first.result_hash.startswith("sha256:") and first.vendor_job_id != again.vendor_job_id


def test_registers_are_joined_into_one_bitstring():
    execution = run(get_backend("local", "aer_simulator"), request(GHZ3_TWO_REGISTERS, shots=256))
    assert set(execution.counts) == {"000", "111"}


@pytest.mark.parametrize("device", ["aer_simulator", "fake_brisbane"])
@pytest.mark.parametrize("qasm", [BELL_QASM2, GHZ3_TWO_REGISTERS], ids=["bell", "ghz3"])
def test_transpiling_for_the_target_read_once_matches_transpiling_for_the_backend(device, qasm):
    """transpile_for hands the pass manager the Target (Aer rebuilds it on every read); nothing may change."""
    from qiskit.transpiler import generate_preset_pass_manager

    from govern.backends.aer import _simulator

    simulator, circuit = _simulator(device), load_circuit(qasm)
    for seed in (11, 12):
        expected = generate_preset_pass_manager(optimization_level=1, backend=simulator, seed_transpiler=seed).run(circuit)
        assert transpile_for(circuit, simulator, seed, f"local/{device}") == expected


def test_noisy_fake_device_shows_errors_and_records_its_calibration(noisy_runs):
    execution = noisy_runs["first"]
    assert execution.device == "fake_brisbane"
    assert execution.counts.get("01", 0) + execution.counts.get("10", 0) > 0
    assert execution.calibration_snapshot_id.startswith("fake_brisbane@20")
    assert execution.transpiled["qubits"] == 2
    assert set(execution.transpiled["ops"]) <= {"ecr", "rz", "sx", "x", "measure", "barrier"}


def test_noisy_runs_repeat_exactly_from_their_seeds(noisy_runs):
    first, again, other = noisy_runs["first"], noisy_runs["again"], noisy_runs["other seed"]
    assert first.counts == again.counts and first.result_hash == again.result_hash
    assert other.counts != first.counts and other.result_hash != first.result_hash


@pytest.mark.parametrize(
    ("vendor", "device", "qubits"),
    [("local", "aer_simulator", 64), ("local", "fake_brisbane", 128), ("ibm", "ibm_brisbane", 128)],
)
def test_a_circuit_wider_than_the_device_is_refused(vendor, device, qubits):
    with pytest.raises(BackendError, match=f"needs {qubits} qubits"):
        get_backend(vendor, device).submit(request(wide_circuit(qubits), shots=16))


def test_bad_circuits_are_backend_errors():
    backend = get_backend("local", "aer_simulator")
    with pytest.raises(BackendError, match="invalid OpenQASM 2"):
        backend.submit(request("OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n"))
    with pytest.raises(BackendError, match="no classical bits"):
        backend.submit(request('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];\n'))


def test_a_backend_parses_a_circuit_within_the_limits_it_was_admitted_under():
    wide = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[4];\ncreg c[4];\nh q;\nmeasure q -> c;\n'
    admitted = DispatchRequest(qasm=wide, shots=10, seed_transpiler=1, seed_simulator=1, limits=CircuitLimits(max_qubits=3))
    with pytest.raises(BackendError, match="over the limit of 3"):
        get_backend("local", "aer_simulator").submit(admitted)


def test_waiting_on_an_unknown_job_means_it_was_lost():
    backend = get_backend("local", "aer_simulator")
    with pytest.raises(VendorJobLost):
        backend.wait("0f6c1a52-job-from-before-a-restart", timeout_s=1)
    job_on_other_device = get_backend("local", "aer_simulator_mps").submit(request())
    with pytest.raises(VendorJobLost):
        backend.wait(job_on_other_device, timeout_s=1)


@pytest.fixture
def busy_aer_worker():
    """Hold Aer's job worker (one thread per process) so that jobs stay queued, as behind a long run."""
    from qiskit_aer.jobs import utils

    release = threading.Event()
    utils.DEFAULT_EXECUTOR.submit(release.wait, 30)
    yield
    release.set()


def test_timeouts_cancel_the_job(busy_aer_worker):
    backend = get_backend("local", "aer_simulator")
    pending_before = backend.availability().pending_jobs
    past_its_request_timeout = backend.submit(request(timeout_s=0.05))
    past_the_wait_timeout = backend.submit(request())
    assert backend.availability().pending_jobs == pending_before + 2
    with pytest.raises(BackendError, match="timed out after 0.05 s and was cancelled"):
        backend.wait(past_its_request_timeout, timeout_s=60)
    with pytest.raises(BackendError, match="timed out after 0.01 s and was cancelled"):
        backend.wait(past_the_wait_timeout, timeout_s=0.01)
    assert backend.availability().pending_jobs == pending_before
    with pytest.raises(VendorJobLost):
        backend.status(past_the_wait_timeout)


def test_garbage_results_are_backend_errors(monkeypatch):
    backend = get_backend("local", "aer_simulator")
    monkeypatch.setattr(type(backend), "_raw_counts", lambda self, result: ["00", "11"])
    with pytest.raises(BackendError, match="no counts"):
        run(backend, request(shots=8))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [(None, "no counts"), ({}, "no counts"), ({"0x3": 8}, "not a bitstring"), ({"00": -1, "11": 9}, "non-negative"),
     ({"00": 2.5}, "non-negative"), ({"00": 4, "1": 4}, "different widths"), ({"00": 3}, "3 outcomes for 8 shots")],
)
def test_counts_are_checked(raw, problem):
    with pytest.raises(BackendError, match=problem):
        checked_counts(raw, shots=8)


def test_vendor_job_states_are_normalised():
    from qiskit.providers import JobStatus

    assert job_state(JobStatus.INITIALIZING) is JobState.QUEUED
    assert job_state("RUNNING") is JobState.RUNNING
    assert job_state(JobStatus.ERROR) is JobState.FAILED and JobState.FAILED.final
    with pytest.raises(BackendError, match="unexpected job status"):
        job_state("ON_FIRE")


# IBM: local testing mode runs; cloud mode only up to the network


def test_ibm_local_mode_runs_samplerv2_on_the_fake_device():
    backend = get_backend("ibm", "ibm_brisbane")
    assert backend.key == "ibm/ibm_brisbane" and backend.simulator
    first = run(backend, request(GHZ3_TWO_REGISTERS, shots=512))
    again = run(backend, request(GHZ3_TWO_REGISTERS, shots=512))
    assert first.device == "ibm_brisbane" and sum(first.counts.values()) == 512
    assert all(len(bits) == 3 for bits in first.counts) and first.counts["000"] + first.counts["111"] > 400
    assert first.calibration_snapshot_id.startswith("fake_brisbane@")
    assert first.transpiled["qubits"] == 3 and first.transpiled["twoQubitDepth"] >= 2
    assert first.result_hash == again.result_hash


def test_ibm_local_mode_refuses_a_seed_it_would_ignore():
    with pytest.raises(BackendError, match="seed_simulator 0"):
        get_backend("ibm", "ibm_brisbane").submit(request(seed_simulator=0))


def test_ibm_cloud_mode_needs_a_token_and_never_repeats_it(monkeypatch):
    from govern.backends import ibm

    token = "tok-9f8e7d6c5b4a"

    class RefusingService:
        def __init__(self, **account):
            raise RuntimeError(f"401 Unauthorized for token {account['token']}")

    monkeypatch.setattr(ibm, "QiskitRuntimeService", RefusingService)
    with pytest.raises(BackendError, match="credentials\\['token'\\]"):
        get_backend("ibm", "ibm_brisbane", settings=Settings(ibm_mode="cloud"))
    backend = get_backend("ibm", "ibm_brisbane", credentials={"token": token}, settings=Settings(ibm_mode="cloud"))
    assert not backend.simulator
    availability = backend.availability()
    assert not availability.available and "401 Unauthorized" in availability.reason
    with pytest.raises(BackendError) as raised:
        backend.submit(request())
    assert token not in str(raised.value) and raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(BackendError, match="unknown ibm_mode 'hardware'"):
        ibm.IbmConfig(mode="hardware")


def test_ibm_cloud_mode_flow_against_a_stand_in_platform(monkeypatch):
    """Submit, status and wait as the platform's objects answer them; the real platform is out of reach here."""
    from datetime import datetime
    from types import SimpleNamespace

    from qiskit.primitives import BitArray, DataBin, PrimitiveResult, SamplerPubResult
    from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

    from govern.backends import ibm
    from govern.backends.aer import fake_backend

    submitted = {}

    class StandInJob:
        def __init__(self):
            self.tags = submitted["options"]["environment"]["job_tags"]
            self.inputs = {"pubs": [[submitted["circuit"], None, 16]]}

        def job_id(self):
            return "d1cloudjob"

        def status(self):
            return "DONE"

        def result(self):
            bits = BitArray.from_counts({"00": 7, "01": 1, "11": 8}, num_bits=2)
            return PrimitiveResult([SamplerPubResult(DataBin(c=bits, shape=()))])

        def properties(self):
            return SimpleNamespace(last_update_date=datetime(2026, 11, 24, 6, 0, tzinfo=UTC))

        def usage(self):
            return 2

    class StandInSampler:
        def run(self, pubs, shots):
            submitted["circuit"] = pubs[0]
            return StandInJob()

    class StandInService:
        def __init__(self, **account):
            assert account["channel"] == "ibm_quantum_platform" and account["instance"] == "crn:test"

        def backend(self, name):
            return fake_backend(name.replace("ibm_", "fake_"))

        def job(self, vendor_job_id):
            if vendor_job_id != "d1cloudjob":
                raise RuntimeJobNotFound("Job not found")
            return StandInJob()

    def sampler(mode, options):
        submitted["options"] = options
        return StandInSampler()

    monkeypatch.setattr(ibm, "QiskitRuntimeService", StandInService)
    monkeypatch.setattr(ibm, "_sampler", sampler)
    backend = get_backend("ibm", "ibm_brisbane", credentials={"token": "t", "instance": "crn:test"}, settings=Settings(ibm_mode="cloud"))
    vendor_job_id = backend.submit(request(shots=16, timeout_s=90.5))
    assert vendor_job_id == "d1cloudjob" and submitted["options"]["max_execution_time"] == 91
    assert backend.status(vendor_job_id) is JobState.DONE
    execution = backend.wait(vendor_job_id, timeout_s=5)
    assert execution.counts == {"00": 7, "01": 1, "11": 8} and execution.usage_seconds == 2.0
    assert (execution.seed_transpiler, execution.seed_simulator) == (11, 7)
    assert execution.calibration_snapshot_id == "ibm_brisbane@2026-11-24T06:00:00+00:00"
    assert execution.transpiled["ops"]["ecr"] == 1
    with pytest.raises(VendorJobLost):
        backend.wait("d1otherjob", timeout_s=5)
