"""Dispatch on SQLite and PostgreSQL: allowed submissions reach Aer and IBM's fake devices through the queue,
with results, money, lineage, fallback, cancellation, reproduction, and backends that misbehave."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from govern.api import create_app
from govern.backends.base import Availability, Backend, BackendError, JobState
from govern.backends.registry import get_backend
from govern.db.tables import JobRecord, LedgerEntry, LineageOutboxEntry, SandboxRecord, SubmissionRecord
from govern.dispatch.jobs import JobKind
from govern.dispatch.queue import claim
from govern.dispatch.worker import Worker, WorkerOptions
from govern.settings import Settings
from tests.admission.test_submissions_api import funded, vqe_body
from tests.api.test_api import auth, example, token_for
from tests.lineage_schemas import validate_event

pytestmark = pytest.mark.slow

FAST = WorkerOptions(lease_s=1.0, poll_s=0.05, job_timeout_s=60, call_grace_s=2.0)


@pytest.fixture
def client(database_url):
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        yield client


def worker(client, backend_for=get_backend, options: WorkerOptions = FAST, **kwargs) -> Worker:
    return Worker(client.app.state.db, options, backend_for=backend_for, **kwargs)


def submit(client, headers, body) -> str:
    response = client.post("/v1/submissions", json=body, headers=headers)
    assert response.status_code == 201, response.json()
    return response.json()["submission"]["id"]


def bell(client) -> tuple[dict, str]:
    manifest, circuit = example("bell-local")
    return auth(token_for(client, "submitter", "platform-qa")), {"manifest": manifest, "circuit": circuit}


def lineage(client, run_id: str | None = None) -> list[dict]:
    with Session(client.app.state.db) as session:
        rows = session.exec(select(LineageOutboxEntry).order_by(LineageOutboxEntry.id)).all()
    events = [json.loads(row.event) for row in rows]
    return [e for e in events if run_id is None or e["run"]["runId"] == run_id]


def jobs(client, submission_id: str, headers) -> list[dict]:
    return client.get(f"/v1/submissions/{submission_id}/jobs", headers=headers).json()["items"]


def test_an_allowed_submission_runs_on_aer_and_its_run_completes(client):
    headers, body = bell(client)
    submission_id = submit(client, headers, body)
    assert client.get(f"/v1/submissions/{submission_id}/result", headers=headers).status_code == 404
    assert worker(client).run_until_idle() == 1
    result = client.get(f"/v1/submissions/{submission_id}/result", headers=headers).json()
    assert set(result["counts"]) <= {"00", "11"} and sum(result["counts"].values()) == 2048
    assert result["result_hash"].startswith("sha256:") and result["transpiled"]["qubits"] == 2
    (job,) = jobs(client, submission_id, headers)
    assert job["status"] == "succeeded" and job["vendor_job_id"] and job["attempts"] == 1
    assert client.get(f"/v1/submissions/{submission_id}", headers=headers).json()["submission"]["job_status"] == "succeeded"
    events = lineage(client, job["run_id"])
    assert [e["eventType"] for e in events] == ["START", "RUNNING", "COMPLETE"]
    complete = events[-1]
    quantum = complete["run"]["facets"]["govern_quantumJob"]
    assert (quantum["seedTranspiler"], quantum["seedSimulator"]) == (job["seed_transpiler"], job["seed_simulator"])
    assert quantum["transpiled"]["qubits"] == 2
    assert complete["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == len(result["counts"])
    assert [f["name"] for f in complete["outputs"][0]["facets"]["schema"]["fields"]] == ["bitstring", "count"]
    for event in events:
        validate_event(event)


def test_the_manifests_seed_makes_two_runs_give_the_same_counts_and_no_seed_gives_recorded_random_ones(client):
    headers, body = bell(client)
    assert body["manifest"]["spec"]["hyperparameters"]["seed"] == 11
    seeded = [submit(client, headers, body) for _ in range(2)]
    unseeded_body = {**body, "manifest": {**body["manifest"], "spec": {**body["manifest"]["spec"], "hyperparameters": {}}}}
    unseeded = [submit(client, headers, unseeded_body) for _ in range(2)]
    assert worker(client).run_until_idle() == 4
    counts = [client.get(f"/v1/submissions/{s}/result", headers=headers).json()["counts"] for s in seeded]
    assert counts[0] == counts[1]
    assert [(j["seed_transpiler"], j["seed_simulator"]) for s in seeded for j in jobs(client, s, headers)] == [(11, 11)] * 2
    drawn = [(j["seed_transpiler"], j["seed_simulator"]) for s in unseeded for j in jobs(client, s, headers)]
    assert len(set(drawn)) == 2 and all(1 <= seed < 2**31 - 1 for pair in drawn for seed in pair)


def test_a_noisy_ibm_device_runs_offline_and_its_sandbox_is_billed(client):
    submitter = funded(client, "100.00")  # estimate 4.80 USD
    submission_id = submit(client, submitter, vqe_body())
    worker(client).run_until_idle()
    result = client.get(f"/v1/submissions/{submission_id}/result", headers=submitter).json()
    assert result["calibration_snapshot_id"].startswith("fake_brisbane@")
    assert sum(result["counts"].values()) == 4000 and Decimal(result["actual_cost"]) == Decimal("4.80")
    with Session(client.app.state.db) as session:
        sandbox = session.get(SandboxRecord, "SBX-2026-014")
        assert (sandbox.spent, sandbox.reserved) == (Decimal("4.80"), Decimal("0.00"))
        ledger = session.exec(select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert [(e.kind, str(e.amount)) for e in ledger] == [("reserve", "4.80"), ("release", "-4.80"), ("charge", "4.80")]
    assert "price-model seconds" in ledger[-1].note and "× 1.6" in ledger[-1].note
    procurement = auth(token_for(client, "procurement", "procurement"))
    listed = client.get("/v1/sandboxes/SBX-2026-014/ledger", headers=procurement).json()
    assert [(e["kind"], e["amount"]) for e in listed] == [("reserve", "4.80"), ("release", "-4.80"), ("charge", "4.80")]
    assert client.get("/v1/sandboxes/SBX-2026-014", headers=procurement).json()["spent"] == "4.80"
    assert client.get("/v1/sandboxes/SBX-2026-014/ledger", headers=auth(token_for(client, "submitter", "quantum-finance"))).status_code == 404  # answered as a sandbox that does not exist
    assert client.get("/v1/sandboxes/nothing/ledger", headers=procurement).status_code == 404
    complete = lineage(client)[-1]
    assert complete["eventType"] == "COMPLETE"
    assert complete["run"]["facets"]["govern_procurement"]["actualCost"] == 4.8
    assert complete["run"]["facets"]["govern_quantumJob"]["calibrationSnapshotId"] == result["calibration_snapshot_id"]
    validate_event(complete)


def test_a_reproduction_matches_and_the_rate_is_a_metric(client):
    headers, body = bell(client)
    submission_id = submit(client, headers, body)
    worker(client).run_until_idle()
    reproduction = client.post(f"/v1/submissions/{submission_id}/reproduce", headers=headers)
    assert reproduction.status_code == 202, reproduction.json()
    worker(client).run_until_idle()
    job = client.get(f"/v1/jobs/{reproduction.json()['id']}", headers=headers).json()
    assert job["kind"] == JobKind.REPRODUCTION.value and job["status"] == "succeeded" and job["reproduced"] is True
    start = lineage(client, job["run_id"])[0]
    assert start["eventType"] == "START" and start["run"]["facets"]["parent"]["run"]["runId"] == jobs(client, submission_id, headers)[0]["run_id"]
    metrics = client.get("/metrics", headers=headers).text
    assert "govern_reproducibility_ratio 1.0" in metrics and 'govern_jobs{status="succeeded"} 2.0' in metrics


class Unavailable(Backend):
    """A device that is down, as its vendor reports it."""

    key, simulator = "ibm/ibm_brisbane", False

    def availability(self):
        return Availability(available=False, reason="maintenance window")

    def submit(self, request):
        raise AssertionError("an unavailable device is never submitted to")

    status = wait = cancel = submit


def test_an_unavailable_device_falls_back_to_the_simulator_as_a_child_run(client):
    submitter = funded(client, "100.00")
    submission_id = submit(client, submitter, vqe_body())  # fallback: aer_simulator on unavailable

    def backends(vendor, device, **options):
        return Unavailable() if vendor == "ibm" else get_backend(vendor, device, **options)

    assert worker(client, backends).run_until_idle() == 2
    original, fallback = jobs(client, submission_id, submitter)
    assert (original["status"], fallback["status"], fallback["kind"]) == ("fallback", "succeeded", JobKind.FALLBACK.value)
    assert "maintenance window" in original["error"] and fallback["device"] == "aer_simulator"
    assert client.get(f"/v1/submissions/{submission_id}/result", headers=submitter).json()["device"] == "aer_simulator"
    aborted = lineage(client, original["run_id"])
    assert [e["eventType"] for e in aborted] == ["START", "ABORT"]
    assert "falling back to local/aer_simulator" in aborted[-1]["run"]["facets"]["errorMessage"]["message"]
    child = lineage(client, fallback["run_id"])
    assert [e["eventType"] for e in child] == ["START", "RUNNING", "COMPLETE"]
    assert child[0]["run"]["facets"]["parent"]["run"]["runId"] == original["run_id"]
    assert child[0]["inputs"] == aborted[0]["inputs"]
    for event in aborted + child:
        validate_event(event)
    with Session(client.app.state.db) as session:
        sandbox = session.get(SandboxRecord, "SBX-2026-014")
        assert (sandbox.spent, sandbox.reserved) == (Decimal("0.00"), Decimal("0.00"))


class Queued(Unavailable):
    """A device that takes jobs, behind a long queue."""

    def availability(self):
        return Availability(available=True, pending_jobs=400, queue_minutes=600.0)


def test_a_queue_over_the_threshold_falls_back_before_anything_is_submitted(client):
    submitter = funded(client, "100.00")
    submission_id = submit(client, submitter, vqe_body())  # queue_minutes_over: 120

    def backends(vendor, device, **options):
        return Queued() if vendor == "ibm" else get_backend(vendor, device, **options)

    worker(client, backends).run_until_idle()
    original, fallback = jobs(client, submission_id, submitter)
    assert original["status"] == "fallback" and "queue is 600 min, over the 120 min threshold" in original["error"]
    assert original["vendor_job_id"] is None and fallback["status"] == "succeeded"


class Misbehaving(Backend):
    """A backend that raises, hangs or answers garbage, on the local vendor's key."""

    simulator = True

    def __init__(self, how: str):
        self.how, self.key = how, f"local/{how}"

    def availability(self):
        return Availability(available=True)

    def submit(self, request):
        if self.how == "raises":
            raise RuntimeError("vendor exploded")
        if self.how == "hangs":
            threading.Event().wait(3600)
        return "job-1"

    def status(self, vendor_job_id):
        return JobState.DONE

    def wait(self, vendor_job_id, timeout_s):
        from govern.backends.checks import build_execution

        return build_execution(vendor_job_id=vendor_job_id, device="x", raw_counts={"0x2": "many"}, shots=2048, transpiled={},
                               seed_transpiler=1, seed_simulator=1, calibration_snapshot_id=None, usage_seconds=None)

    def cancel(self, vendor_job_id):
        pass


@pytest.mark.parametrize("how, reason", [("raises", "vendor exploded"), ("hangs", "did not return within"), ("garbage", "not a bitstring")])
def test_a_misbehaving_backend_fails_its_job_and_the_worker_serves_the_next(client, how, reason):
    headers, body = bell(client)
    broken, healthy = submit(client, headers, body), submit(client, headers, body)
    calls = []

    def backends(vendor, device, **options):
        calls.append(device)
        return Misbehaving(how) if len(calls) == 1 else get_backend(vendor, device, **options)

    options = WorkerOptions(lease_s=1.0, poll_s=0.05, job_timeout_s=1.0, call_grace_s=0.5)
    assert worker(client, backends, options).run_until_idle() == 2
    (failed,), (succeeded,) = jobs(client, broken, headers), jobs(client, healthy, headers)
    assert failed["status"] == "failed" and reason in failed["error"]
    assert succeeded["status"] == "succeeded"
    fail = lineage(client, failed["run_id"])[-1]
    assert fail["eventType"] == "FAIL" and reason in fail["run"]["facets"]["errorMessage"]["message"]
    validate_event(fail)


def test_a_queued_job_is_cancelled_at_once_and_its_reservation_released(client):
    submitter = funded(client, "100.00")
    submission_id = submit(client, submitter, vqe_body())
    cancelled = client.post(f"/v1/submissions/{submission_id}/cancel", headers=submitter)
    assert cancelled.status_code == 202 and cancelled.json()["items"][0]["status"] == "cancelled"
    assert client.post(f"/v1/submissions/{submission_id}/cancel", headers=submitter).status_code == 409
    assert worker(client).run_until_idle() == 0
    assert [e["eventType"] for e in lineage(client)] == ["START", "ABORT"]
    with Session(client.app.state.db) as session:
        assert session.get(SandboxRecord, "SBX-2026-014").reserved == Decimal("0.00")
    other = auth(token_for(client, "submitter", "quantum-finance"))
    assert client.post(f"/v1/submissions/{submission_id}/cancel", headers=other).status_code == 403
    assert client.post("/v1/submissions/nothing/cancel", headers=submitter).status_code == 404


class Slow(Backend):
    """A device whose job runs until it is cancelled."""

    key, simulator = "local/aer_simulator", True

    def __init__(self):
        self.cancelled = threading.Event()

    def availability(self):
        return Availability(available=True)

    def submit(self, request):
        return "slow-1"

    def status(self, vendor_job_id):
        return JobState.CANCELLED if self.cancelled.is_set() else JobState.RUNNING

    def wait(self, vendor_job_id, timeout_s):
        if self.cancelled.wait(timeout_s):
            raise BackendError("slow-1 was cancelled")
        raise BackendError("timed out")

    def cancel(self, vendor_job_id):
        self.cancelled.set()


def test_a_running_job_is_cancelled_at_the_vendor_by_its_worker(client):
    headers, body = bell(client)
    submission_id = submit(client, headers, body)
    slow = Slow()
    runner = threading.Thread(target=worker(client, lambda *a, **k: slow, WorkerOptions(lease_s=0.3, poll_s=0.05, job_timeout_s=30, call_grace_s=1)).run_until_idle)
    runner.start()
    deadline = time.monotonic() + 10
    while jobs(client, submission_id, headers)[0]["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.post(f"/v1/submissions/{submission_id}/cancel", headers=headers).status_code == 202
    runner.join(timeout=15)
    (job,) = jobs(client, submission_id, headers)
    assert slow.cancelled.is_set() and job["status"] == "cancelled"
    assert [e["eventType"] for e in lineage(client, job["run_id"])] == ["START", "RUNNING", "ABORT"]


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(client):
    headers, body = bell(client)
    submission_id = submit(client, headers, body)
    assert claim(client.app.state.db, "dead-worker", lease_s=0.2) is not None  # claimed, then never renewed
    assert worker(client).run_until_idle() == 0  # the lease still holds
    time.sleep(0.3)
    assert worker(client).run_until_idle() == 1
    (job,) = jobs(client, submission_id, headers)
    assert job["status"] == "succeeded" and job["attempts"] == 2


def test_an_exhausted_sandbox_stops_further_dispatch(client):
    submitter = funded(client, "10.00")
    submission_id = submit(client, submitter, vqe_body())
    with Session(client.app.state.db) as session:
        sandbox = session.get(SandboxRecord, "SBX-2026-014")
        sandbox.spent = Decimal("9.00")  # booked by runs that cost more than estimated
        session.add(sandbox)
        session.commit()
    called = []
    worker(client, lambda *a, **k: called.append(a) or get_backend(*a, **k)).run_until_idle()
    (job,) = jobs(client, submission_id, submitter)
    assert job["status"] == "failed" and "exhausted" in job["error"]
    with Session(client.app.state.db) as session:
        assert session.get(SandboxRecord, "SBX-2026-014").reserved == Decimal("0.00")
        assert session.exec(select(JobRecord)).one().vendor_job_id is None


def test_credentials_are_references_resolved_only_by_the_worker(client):
    submitter = funded(client, "100.00")
    submission_id = submit(client, submitter, vqe_body())
    seen = {}

    def backends(vendor, device, credentials, **options):
        seen["token"] = credentials["token"]
        return get_backend(vendor, device, credentials=credentials, **options)

    worker(client, backends, environ={"IBM_QUANTUM_TOKEN": "s3cr3t-value"}).run_until_idle()
    assert seen["token"] == "s3cr3t-value"
    with Session(client.app.state.db) as session:
        assert session.exec(select(JobRecord)).one().credentials == {"token": "env:IBM_QUANTUM_TOKEN"}
    assert "s3cr3t-value" not in json.dumps(lineage(client)) and "s3cr3t-value" not in json.dumps(jobs(client, submission_id, submitter))


def test_a_job_of_a_submission_that_was_not_allowed_is_never_dispatched(client):
    headers, body = bell(client)
    submission_id = submit(client, headers, body)
    with Session(client.app.state.db) as session:
        row = session.exec(select(SubmissionRecord).where(SubmissionRecord.id == submission_id)).one()
        row.outcome = "denied"  # as if someone queued work behind the policy's back
        session.add(row)
        session.commit()
    worker(client, lambda *a, **k: pytest.fail("no backend may be asked")).run_until_idle()
    (job,) = jobs(client, submission_id, headers)
    assert job["status"] == "failed" and "was denied, so its job is not dispatched" in job["error"]


def test_vendor_prices_on_record_drive_the_estimate_and_the_bill(client):
    submitter = funded(client, "100.00")
    procurement = auth(token_for(client, "procurement", "procurement"))
    negotiated = {"model": "negotiated", "perTask": 1.0, "perShot": 0.0005}
    put = client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True, "priceModel": negotiated}, headers=procurement)
    assert put.status_code == 200 and put.json()["priceModel"]["perShot"] == 0.0005
    assert client.put("/v1/vendors/ibm", json={"priceModel": {"perShot": -1}}, headers=procurement).status_code == 422
    response = client.post("/v1/submissions", json=vqe_body(), headers=submitter)
    assert response.json()["decision"]["estimate"]["cost"] == 3.0  # 1 + 4000 × 0.0005, not the list price of 4.80
    worker(client).run_until_idle()
    submission_id = response.json()["submission"]["id"]
    assert client.get(f"/v1/submissions/{submission_id}/result", headers=submitter).json()["actual_cost"] == "3.00"
    ledger = client.get("/v1/sandboxes/SBX-2026-014/ledger", headers=procurement).json()
    assert ledger[-1]["kind"] == "charge" and "negotiated price model" in ledger[-1]["note"]


def test_an_idle_worker_is_woken_by_a_queued_job_not_by_its_poll(client, database_url):
    """PostgreSQL workers LISTEN for the NOTIFY sent when a job is queued; a worker in the service process
    is woken directly. With a ten-minute poll, only the wake-up can make the job run within the test."""
    headers, body = bell(client)
    stop = threading.Event()
    idle = worker(client, options=WorkerOptions(lease_s=5, poll_s=600, job_timeout_s=60, call_grace_s=2))
    if database_url.startswith("sqlite"):
        client.app.state.worker = idle  # as `govern serve --with-worker` wires it
    runner = threading.Thread(target=idle.run, args=(stop,))
    runner.start()
    try:
        time.sleep(0.5)  # let it fall idle first
        submission_id = submit(client, headers, body)
        deadline = time.monotonic() + 60
        while jobs(client, submission_id, headers)[0]["status"] != "succeeded" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert jobs(client, submission_id, headers)[0]["status"] == "succeeded"
    finally:
        stop.set()
        idle.wake()
        runner.join(timeout=30)
        client.app.state.worker = None


def test_a_run_on_a_simulator_that_cannot_be_seeded_is_not_offered_for_reproduction(client):
    headers, body = bell(client)
    body["manifest"] = {**body["manifest"], "spec": {**body["manifest"]["spec"], "backend": {"vendor": "aws-braket", "device": "braket_local_sv"}}}
    submission_id = submit(client, headers, body)
    worker(client).run_until_idle()
    assert jobs(client, submission_id, headers)[0]["status"] == "succeeded"
    refused = client.post(f"/v1/submissions/{submission_id}/reproduce", headers=headers)
    assert refused.status_code == 409 and "cannot be seeded" in refused.json()["detail"]
