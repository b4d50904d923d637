"""Classical baselines, on SQLite and PostgreSQL, run by the real worker: a simulator baseline is queued
with its run, runs free on Aer, is linked to it in the result and in lineage, and feeds the pilot's
baseline criteria; a recorded baseline names an earlier simulator run of the same team's; SEC-009 keeps
baselines on local simulators."""

from __future__ import annotations

import pytest
from openlineage.client import OpenLineageClient
from qiskit.quantum_info import hellinger_fidelity
from sqlmodel import Session

from govern.db.tables import ResultRecord
from govern.lineage.delivery import Deliverer
from govern.lineage.transport import StoreConfig, StoreTransport
from tests.api.test_api import auth, example, token_for
from tests.dispatch.test_dispatch import jobs, lineage, submit, worker
from tests.lineage_schemas import validate_event
from tests.pilots.test_progress import TERMS, pilot

pytestmark = pytest.mark.slow

BASELINE_TERMS = {**TERMS, "criteria": [
    {"name": "close-to-classical", "metric": "baseline_fidelity", "direction": "at_least", "target": 0.999},
    {"name": "faster-than-classical", "metric": "baseline_speedup", "direction": "at_least", "target": 1000},
]}


def baseline_body() -> dict:
    manifest, circuit = example("vqe-h2-baseline-ibm")
    return {"manifest": manifest, "circuit": circuit}


def bell_body(baseline: dict | None = None) -> dict:
    manifest, circuit = example("bell-local")
    spec = {**manifest["spec"], **({"baseline": baseline} if baseline else {})}
    return {"manifest": {**manifest, "spec": spec}, "circuit": circuit}


def test_a_simulator_baseline_runs_free_beside_its_run_and_is_linked_to_it(client):
    procurement, submitter = pilot(client, BASELINE_TERMS)
    submission_id = submit(client, submitter, baseline_body())
    queued = jobs(client, submission_id, submitter)
    primary, baseline = sorted(queued, key=lambda job: job["kind"] != "primary")
    assert (primary["kind"], baseline["kind"]) == ("primary", "baseline")
    assert baseline["parent_job_id"] == primary["id"] and primary["baseline_job_id"] == baseline["id"]
    assert (baseline["vendor"], baseline["device"], baseline["estimated_cost"]) == ("local", "aer_simulator", "0.00")
    assert (baseline["seed_simulator"], baseline["shots"]) == (primary["seed_simulator"], primary["shots"])
    submission = client.get(f"/v1/submissions/{submission_id}", headers=submitter).json()
    assert submission["submission"]["job_status"] == "queued"

    assert worker(client).run_until_idle() == 2
    ran = {job["kind"]: job for job in jobs(client, submission_id, submitter)}
    assert ran["primary"]["status"] == ran["baseline"]["status"] == "succeeded"
    result = client.get(f"/v1/submissions/{submission_id}/result", headers=submitter).json()
    assert result["job_id"] == primary["id"] and result["device"] == "ibm_brisbane"
    linked = result["baseline"]
    assert {key: linked[key] for key in ("kind", "job_id", "run_id", "submission_id", "device", "status")} == {
        "kind": "simulator", "job_id": baseline["id"], "run_id": baseline["run_id"], "submission_id": submission_id,
        "device": "aer_simulator", "status": "succeeded"}

    charges = [entry for entry in client.get("/v1/sandboxes/SBX-2026-014/ledger", headers=procurement).json() if entry["kind"] == "charge"]
    assert len(charges) == 1 and charges[0]["submission_id"] == submission_id  # the primary's; the baseline is free

    start, *rest = lineage(client, baseline["run_id"])
    validate_event(start)
    assert start["eventType"] == "START" and start["run"]["facets"]["parent"]["run"]["runId"] == primary["run_id"]
    assert start["run"]["facets"]["tags"]["tags"] == [{"key": "govern.jobKind", "value": "baseline", "source": "govern"}]
    assert [event["eventType"] for event in rest] == ["RUNNING", "COMPLETE"]
    deliverer = Deliverer(client.app.state.db, OpenLineageClient(transport=StoreTransport(StoreConfig(), database=client.app.state.db)))
    assert deliverer.deliver_pending().failed == 0  # the real client takes the tagged START too

    progress = client.get("/v1/sandboxes/SBX-2026-014/pilot", headers=procurement).json()
    criteria = {criterion["name"]: criterion for criterion in progress["criteria"]}
    close = criteria["close-to-classical"]
    assert close["value"] == pytest.approx(linked["hellinger_fidelity"], abs=1e-6) and 0 < close["value"] < 0.999
    assert close["met"] is False and close["records"]["jobs"] == [primary["id"], baseline["id"]]
    assert close["records"]["runs"] == [primary["run_id"], baseline["run_id"]]  # each job beside its own run
    assert criteria["faster-than-classical"]["value"] > 0 and criteria["faster-than-classical"]["met"] is False
    assert progress["failure_budget"]["record"]["ended"] == 1  # the baseline is not a primary job


def test_the_fidelity_is_qiskits_over_both_results(client):
    _, submitter = pilot(client, BASELINE_TERMS)
    submission_id = submit(client, submitter, baseline_body())
    assert worker(client).run_until_idle() == 2
    result = client.get(f"/v1/submissions/{submission_id}/result", headers=submitter).json()
    assert client.get(f"/v1/jobs/{result['baseline']['job_id']}", headers=submitter).json()["kind"] == "baseline"
    with Session(client.app.state.db) as session:
        classical = session.get(ResultRecord, result["baseline"]["job_id"])
        assert classical is not None
        expected = hellinger_fidelity(result["counts"], classical.counts)
    assert result["baseline"]["hellinger_fidelity"] == pytest.approx(expected)


def test_a_recorded_baseline_names_an_earlier_simulator_run_of_the_team(client):
    submitter = auth(token_for(client, "submitter", "platform-qa"))
    earlier = submit(client, submitter, bell_body())
    assert worker(client).run_until_idle() == 1
    (earlier_job,) = jobs(client, earlier, submitter)

    later = submit(client, submitter, bell_body({"recorded": earlier}))
    (job,) = jobs(client, later, submitter)
    assert job["baseline_job_id"] == earlier_job["id"]
    assert worker(client).run_until_idle() == 1
    linked = client.get(f"/v1/submissions/{later}/result", headers=submitter).json()["baseline"]
    assert (linked["kind"], linked["submission_id"], linked["job_id"]) == ("recorded", earlier, earlier_job["id"])
    assert linked["hellinger_fidelity"] == pytest.approx(1.0)  # same circuit, seed and simulator

    other_team = auth(token_for(client, "submitter", "materials-rnd"))
    manifest, circuit = example("bell-local")
    foreign = {"manifest": {**manifest, "metadata": {**manifest["metadata"], "team": "materials-rnd"},
                            "spec": {**manifest["spec"], "baseline": {"recorded": earlier}}}, "circuit": circuit}
    for headers, body in ((other_team, foreign), (submitter, bell_body({"recorded": "00000000-0000-4000-8000-000000000000"}))):
        refused = client.post("/v1/submissions", json=body, headers=headers)
        assert refused.status_code == 422 and "spec.baseline.recorded" in refused.text, refused.text
    assert client.post("/v1/submissions", json=bell_body({"recorded": "not-an-id"}), headers=submitter).status_code == 422
    both = bell_body({"recorded": earlier, "simulator": "aer_simulator"})
    assert "exactly one of 'simulator'" in client.post("/v1/submissions", json=both, headers=submitter).text


def test_sec_009_denies_a_baseline_that_is_not_a_local_simulator(client):
    submitter = auth(token_for(client, "submitter", "platform-qa"))
    response = client.post("/v1/submissions", json=bell_body({"simulator": "ibm_brisbane"}), headers=submitter)
    assert response.status_code == 403, response.json()
    assert [finding["rule"] for finding in response.json()["decision"]["deny"]] == ["SEC-009"]
    assert response.json()["submission"]["job_status"] is None
