"""A pilot's progress and report, on SQLite and PostgreSQL, from jobs the real worker ran: an H2 run that
succeeds on the noisy IBM device, a dynamic circuit the device cannot run (it fails), and a run whose device
is down (it falls back). Each criterion is measured from those records, with links to them."""

from __future__ import annotations

import pytest

from govern.backends.registry import get_backend
from govern.pilots.progress import MEASURES
from govern.pilots.terms import Metric
from tests.admission.test_submissions_api import vqe_body
from tests.api.test_api import auth, example, token_for
from tests.dispatch.test_dispatch import Unavailable, submit, worker
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow

TERMS = {
    "objective": "Decide whether <ibm_brisbane> is good enough to scale",
    "criteria": [
        {"name": "jobs-succeed", "metric": "success_rate", "direction": "at_least", "target": 0.9},
        {"name": "cheap", "metric": "cost_per_job", "direction": "at_most", "target": 25},
        {"name": "zeros", "metric": "outcome_probability", "outcome": "0000", "direction": "at_least", "target": 0.01},
        {"name": "repeatable", "metric": "reproducibility_rate", "direction": "at_least", "target": 1},
    ],
    "failureBudget": {"maxFailedJobs": 2, "maxFailedSpend": "50.00", "counts": ["failed"]},
}


def pilot(client, terms: dict = TERMS) -> tuple[dict[str, str], dict[str, str]]:
    procurement = auth(token_for(client, "procurement", "procurement"))
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=procurement)
    assert client.post("/v1/sandboxes", json=sandbox_request(budget="100.00", pilot=terms), headers=submitter).status_code == 201
    assert client.post("/v1/sandboxes/SBX-2026-014/approve", headers=procurement).status_code == 200
    return procurement, submitter


def dynamic_circuit_body() -> dict:
    manifest, circuit = example("repeat-until-one-ibm")
    return {"manifest": manifest, "circuit": circuit}


def test_every_metric_has_a_measure():
    assert set(MEASURES) == set(Metric)


def test_progress_is_measured_from_the_records_and_linked_to_them(client):
    procurement, submitter = pilot(client)
    fresh = client.get("/v1/sandboxes/SBX-2026-014/pilot", headers=procurement).json()
    assert [c["met"] for c in fresh["criteria"]] == [None, None, None, None]  # nothing measurable yet
    assert fresh["failure_budget"]["state"] == "ok" and fresh["terms"]["objective"] == TERMS["objective"]

    succeeded = submit(client, submitter, vqe_body())
    failed = submit(client, submitter, dynamic_circuit_body())
    assert worker(client).run_until_idle() == 2
    fell_back = submit(client, submitter, vqe_body())
    assert worker(client, lambda v, d, **o: Unavailable() if v == "ibm" else get_backend(v, d, **o)).run_until_idle() == 2
    jobs = {sid: client.get(f"/v1/submissions/{sid}/jobs", headers=submitter).json()["items"] for sid in (succeeded, failed, fell_back)}
    assert [[job["status"] for job in jobs[sid]] for sid in (succeeded, failed, fell_back)] == [["succeeded"], ["failed"], ["fallback", "succeeded"]]
    assert "while_loop" in jobs[failed][0]["error"]

    progress = client.get("/v1/sandboxes/SBX-2026-014/pilot", headers=procurement).json()
    criteria = {c["name"]: c for c in progress["criteria"]}
    success = criteria["jobs-succeed"]
    assert success["value"] == pytest.approx(1 / 3) and success["met"] is False
    assert set(success["records"]["jobs"]) == {jobs[sid][0]["id"] for sid in jobs} and success["records"]["total"] == 3
    ledger = client.get("/v1/sandboxes/SBX-2026-014/ledger", headers=procurement).json()
    charges = [entry for entry in ledger if entry["kind"] == "charge"]
    cheap = criteria["cheap"]
    assert cheap["value"] == pytest.approx(sum(float(entry["amount"]) for entry in charges)) and cheap["met"] is True
    assert sorted(cheap["records"]["ledger"]) == sorted(entry["id"] for entry in charges)
    result = client.get(f"/v1/submissions/{succeeded}/result", headers=submitter).json()
    zeros = criteria["zeros"]
    assert zeros["value"] == pytest.approx(result["counts"].get("0000", 0) / sum(result["counts"].values()))
    assert criteria["repeatable"]["met"] is None  # no reproduction yet

    budget = progress["failure_budget"]
    assert budget["record"] == {"ended": 3, "failed": 1, "cancelled": 0, "fallenBack": 1, "failedSpend": "0.00", "cancelledSpend": "0.00"}
    assert [(use["limit"], use["used"], use["allowed"], use["state"]) for use in budget["limits"]] == [
        ("maxFailedJobs", 1, 2, "ok"), ("maxFailedSpend", 0, 50, "ok")]
    assert budget["records"]["jobs"] == [jobs[failed][0]["id"]]
    assert progress["availability"]["fallbacks"] == {"unavailable": 1} and progress["availability"]["jobs"] == 3
    assert progress["decisions"]["allowed"] == 3 and len(progress["decisions"]["records"]["decisions"]) == 3


def test_the_report_in_each_format_and_who_may_read_it(client):
    procurement, submitter = pilot(client)
    submit(client, submitter, vqe_body())
    assert worker(client).run_until_idle() == 1
    markdown = client.get("/v1/sandboxes/SBX-2026-014/pilot/report", headers=procurement)
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
    assert "| jobs-succeed | 1 against at least 0.9" in markdown.text and "| **met** |" in markdown.text
    assert "**not measurable yet**" in markdown.text and "&lt;ibm_brisbane>" in markdown.text
    assert "](/ui/decisions/" in markdown.text and "](/v1/jobs/" in markdown.text and "/ledger#" in markdown.text
    html = client.get("/v1/sandboxes/SBX-2026-014/pilot/report", params={"format": "html"}, headers=submitter)
    assert html.status_code == 200 and "&lt;ibm_brisbane&gt;" in html.text and "<ibm_brisbane>" not in html.text
    assert 'class="verdict met"' in html.text
    pdf = client.get("/v1/sandboxes/SBX-2026-014/pilot/report", params={"format": "pdf"}, headers=procurement)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and 'filename="pilot-SBX-2026-014.pdf"' in pdf.headers["content-disposition"]
    assert client.get("/v1/sandboxes/SBX-2026-014/pilot/report", params={"format": "docx"}, headers=procurement).status_code == 422
    other_team = auth(token_for(client, "submitter", "platform-qa"))
    for path in ("/v1/sandboxes/SBX-2026-014/pilot", "/v1/sandboxes/SBX-2026-014/pilot/report", "/v1/sandboxes/NOPE/pilot"):
        assert client.get(path, headers=other_team).status_code == 404


def test_a_sandbox_without_pilot_terms_shows_spend_and_operations_only(client):
    procurement = auth(token_for(client, "procurement", "procurement"))
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=procurement)
    client.post("/v1/sandboxes", json=sandbox_request(), headers=submitter)
    progress = client.get("/v1/sandboxes/SBX-2026-014/pilot", headers=submitter).json()
    assert progress["terms"] is None and progress["criteria"] == [] and progress["failure_budget"] is None
    assert "approved without pilot terms" in client.get("/v1/sandboxes/SBX-2026-014/pilot/report", headers=submitter).text


def test_each_run_event_carries_the_pilot_state_when_it_was_written(client):
    import json

    from sqlmodel import Session, col, select

    from govern.db.tables import LineageOutboxEntry, SubmissionRecord
    from tests.lineage_schemas import validate_event

    _, submitter = pilot(client)
    failed = submit(client, submitter, dynamic_circuit_body())
    assert worker(client).run_until_idle() == 1
    with Session(client.app.state.db) as session:
        run_id = session.exec(select(SubmissionRecord.run_id).where(SubmissionRecord.id == failed)).one()
        events = [json.loads(row.event) for row in session.exec(select(LineageOutboxEntry).where(LineageOutboxEntry.run_id == run_id)
                                                                .order_by(col(LineageOutboxEntry.id)))]
    assert [event["eventType"] for event in events] == ["START", "FAIL"]  # it failed before it ran
    pilots = [event["run"]["facets"]["govern_procurement"]["pilot"] for event in (events[0], events[-1])]
    assert [p["id"] for p in pilots] == ["SBX-2026-014"] * 2
    assert [p["failureBudget"]["limits"][0]["used"] for p in pilots] == [0, 1]  # FAIL counts its own failure
    assert [c["name"] for c in pilots[-1]["criteria"]] == [c["name"] for c in TERMS["criteria"]]
    for event in events:
        validate_event(event)
