"""The optional vendors: aws-braket (its local simulator run for real, cloud up to the network) and ionq
(up to the network: IonQ has no offline simulator). The SDKs are in the test extra, so where CI=true a
missing one fails these tests instead of skipping them."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import pytest

from govern.backends.base import BackendError, DispatchRequest, UnknownBackend
from govern.backends.registry import get_backend, known_backends

pytestmark = pytest.mark.slow

CATALOGUE = Path(__file__).resolve().parents[2] / "policies" / "govern" / "backends" / "data.json"
BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
FLIP_FIRST = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nx q[0];\nmeasure q -> c;\n'
AWS_SECRET = "aws-secret-that-must-not-leak"
AWS_CREDENTIALS = {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": AWS_SECRET}
IONQ_TOKEN = "ionq-token-that-must-not-leak"
UNREACHABLE = "http://127.0.0.1:9"
"""The discard port on loopback: nothing listens, so a connection is refused at once."""


def vendor_sdk_installed(module: str) -> None:
    """Skip without the SDK, except in CI, where the test extra must have installed it."""
    if os.environ.get("CI") == "true":
        importlib.import_module(module)
    else:
        pytest.importorskip(module)


def request(qasm: str = BELL, shots: int = 500) -> DispatchRequest:
    return DispatchRequest(qasm=qasm, shots=shots, seed_transpiler=11, seed_simulator=7)


def run(backend, dispatch: DispatchRequest):
    return backend.wait(backend.submit(dispatch), 60)


@pytest.fixture
def offline_aws(monkeypatch):
    """Braket and STS endpoints on a closed loopback port, and no AWS files or variables of this machine."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BRAKET", UNREACHABLE)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", UNREACHABLE)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def offline_ionq(monkeypatch):
    """qiskit-ionq asks the API in IONQ_API_URL (not the backend's URL) for device widths: keep it on loopback."""
    for name in ("IONQ_API_KEY", "IONQ_API_TOKEN", "QISKIT_IONQ_API_TOKEN", "QISKIT_IONQ_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IONQ_API_URL", UNREACHABLE)


def test_known_backends_list_every_catalogued_braket_and_ionq_device():
    catalogue = json.loads(CATALOGUE.read_text())
    catalogued = {f"{entry['vendor']}/{name}" for name, entry in catalogue.items() if entry["vendor"] in ("aws-braket", "ionq")}
    assert "aws-braket/braket_local_sv" in catalogued
    assert catalogued <= set(known_backends())


def test_bell_on_the_braket_local_simulator():
    vendor_sdk_installed("qiskit_braket_provider")
    backend = get_backend("aws-braket", "braket_local_sv")
    execution = run(backend, request(shots=500))
    assert set(execution.counts) == {"00", "11"}
    assert sum(execution.counts.values()) == 500
    assert execution.transpiled["qubits"] == 2
    assert execution.transpiled["ops"]["cx"] == 1
    assert (execution.seed_transpiler, execution.calibration_snapshot_id) == (11, None)


def test_braket_local_counts_use_qiskit_bit_order():
    vendor_sdk_installed("qiskit_braket_provider")
    execution = run(get_backend("aws-braket", "braket_local_sv"), request(FLIP_FIRST, shots=50))
    assert execution.counts == {"01": 50}


def test_the_braket_local_simulator_says_it_cannot_be_reproduced():
    """It cannot be seeded, so a reproduction could not match; the worker and API read these flags."""
    vendor_sdk_installed("qiskit_braket_provider")
    backend = get_backend("aws-braket", "braket_local_sv")
    assert backend.simulator and not backend.reproducible
    assert get_backend("local", "aer_simulator").reproducible


def test_unknown_braket_device_lists_the_devices():
    with pytest.raises(UnknownBackend, match="aws-braket devices: braket_local_sv, braket_sv1, ionq_aria"):
        get_backend("aws-braket", "ionq_harmony")


@pytest.mark.parametrize("missing", ["aws_access_key_id", "aws_secret_access_key"])
def test_braket_cloud_needs_aws_credentials(missing):
    credentials = {key: value for key, value in AWS_CREDENTIALS.items() if key != missing}
    with pytest.raises(BackendError, match=rf"credentials\['{missing}'\]") as raised:
        get_backend("aws-braket", "iqm_garnet", credentials=credentials)
    assert AWS_SECRET not in str(raised.value)


def test_braket_cloud_unreachable_is_unavailable_and_never_repeats_the_secret(offline_aws):
    vendor_sdk_installed("qiskit_braket_provider")
    backend = get_backend("aws-braket", "iqm_garnet", credentials=AWS_CREDENTIALS)
    availability = backend.availability()
    assert not availability.available
    assert "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet" in availability.reason
    assert AWS_SECRET not in availability.reason
    with pytest.raises(BackendError) as raised:
        backend.submit(request())
    assert AWS_SECRET not in str(raised.value)


def test_braket_cloud_masks_the_secret_in_library_errors(monkeypatch, offline_aws):
    vendor_sdk_installed("qiskit_braket_provider")
    import boto3

    def leaky_session(**options):
        raise ValueError(f"bad credentials {options['aws_secret_access_key']}")

    monkeypatch.setattr(boto3, "Session", leaky_session)
    availability = get_backend("aws-braket", "braket_sv1", credentials=AWS_CREDENTIALS).availability()
    assert "bad credentials ***" in availability.reason
    assert AWS_SECRET not in availability.reason


def test_braket_regionless_device_takes_the_region_from_the_credentials(monkeypatch, offline_aws):
    vendor_sdk_installed("qiskit_braket_provider")
    import boto3

    regions = []
    monkeypatch.setattr(boto3, "Session", lambda **options: regions.append(options["region_name"]) or 1 / 0)
    get_backend("aws-braket", "braket_sv1", credentials={**AWS_CREDENTIALS, "region": "eu-west-2"}).availability()
    get_backend("aws-braket", "rigetti_ankaa_3", credentials={**AWS_CREDENTIALS, "region": "eu-west-2"}).availability()
    assert regions == ["eu-west-2", "us-west-1"]


@pytest.mark.parametrize(("vendor", "device", "module", "extra"), [
    ("aws-braket", "braket_local_sv", "qiskit_braket_provider", "braket"),
    ("aws-braket", "braket_sv1", "qiskit_braket_provider", "braket"),
    ("ionq", "ionq_simulator", "qiskit_ionq", "ionq"),
])
def test_a_missing_vendor_sdk_names_the_extra_to_install(monkeypatch, vendor, device, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail as if it were not installed
    credentials = {**AWS_CREDENTIALS, "token": IONQ_TOKEN}
    with pytest.raises(BackendError, match=rf"pip install 'govern-engine\[{extra}\]'"):
        get_backend(vendor, device, credentials=credentials)


def test_ionq_needs_a_token_and_never_reads_one_from_the_environment(monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", IONQ_TOKEN)
    with pytest.raises(BackendError, match=r"credentials\['token'\] \(an IonQ API key\)"):
        get_backend("ionq", "ionq_forte")


def test_unknown_ionq_device_lists_the_devices():
    with pytest.raises(UnknownBackend, match="ionq devices: ionq_aria_direct, ionq_forte, ionq_simulator"):
        get_backend("ionq", "ionq_harmony", credentials={"token": IONQ_TOKEN})


def test_ionq_unreachable_api_fails_the_submit_without_the_token(offline_ionq):
    vendor_sdk_installed("qiskit_ionq")
    backend = get_backend("ionq", "ionq_simulator", credentials={"token": IONQ_TOKEN, "url": UNREACHABLE})
    assert backend.simulator and backend.reproducible
    with pytest.warns(UserWarning, match="Failed to get qubits"):  # qiskit-ionq asks the API for the width
        with pytest.raises(BackendError, match="ionq/ionq_simulator did not accept the job") as raised:
            backend.submit(request())
    assert IONQ_TOKEN not in str(raised.value)
    assert raised.value.__cause__ is None


def test_ionq_masks_the_token_in_library_errors(monkeypatch, offline_ionq):
    vendor_sdk_installed("qiskit_ionq")
    import qiskit_ionq

    def leaky_provider(token, url):
        raise RuntimeError(f"401 for apiKey {token}")

    monkeypatch.setattr(qiskit_ionq, "IonQProvider", leaky_provider)
    backend = get_backend("ionq", "ionq_forte", credentials={"token": IONQ_TOKEN})
    assert not backend.simulator
    with pytest.raises(BackendError, match=r"401 for apiKey \*\*\*") as raised:
        backend.submit(request())
    assert IONQ_TOKEN not in str(raised.value)
