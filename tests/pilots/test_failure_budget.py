"""The failure budget end to end, on SQLite and PostgreSQL: jobs failing at once on several workers are all
counted on their sandbox, PR-103 warns from 80% of the budget, PR-008 denies the next paid submission once it
is spent, a compliance waiver lets one through recorded as waived, and free backends are never held back."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session

from govern.db.tables import SandboxRecord
from tests.admission.test_submissions_api import vqe_body
from tests.api.test_api import auth, example, token_for
from tests.dispatch.test_dispatch import submit, worker
from tests.pilots.test_progress import dynamic_circuit_body
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow

TERMS = {"objective": "Learn what fails", "failureBudget": {"maxFailedJobs": 5, "counts": ["failed"]},
         "criteria": [{"name": "jobs-succeed", "metric": "success_rate", "direction": "at_least", "target": 0.5}]}


def rules(answer: dict, effect: str) -> list[str]:
    return [finding["rule"] for finding in answer["decision"][effect]]


def test_concurrent_failures_are_all_counted_and_the_budget_denies_then_a_waiver_lets_one_through(client):
    procurement = auth(token_for(client, "procurement", "procurement"))
    compliance = auth(token_for(client, "compliance", "compliance"))
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=procurement)
    assert client.post("/v1/sandboxes", json=sandbox_request(budget="100.00", pilot=TERMS), headers=submitter).status_code == 201
    assert client.post("/v1/sandboxes/SBX-2026-014/approve", headers=procurement).status_code == 200
    with Session(client.app.state.db) as session:
        revision = session.get(SandboxRecord, "SBX-2026-014").revision

    for _ in range(4):
        submit(client, submitter, dynamic_circuit_body())
    workers = [worker(client) for _ in range(3)]
    threads = [threading.Thread(target=each.run_until_idle) for each in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    with Session(client.app.state.db) as session:
        row = session.get(SandboxRecord, "SBX-2026-014")
        assert (row.jobs_ended, row.jobs_failed, row.jobs_fallen_back, row.revision - revision) == (4, 4, 0, 4)

    warned = client.post("/v1/check", json=vqe_body(), headers=submitter).json()
    assert warned["decision"]["allow"] and "PR-103" in rules(warned, "warn")  # 4 of 5: 80%
    submit(client, submitter, dynamic_circuit_body())
    assert worker(client).run_until_idle() == 1
    denied = client.post("/v1/submissions", json=vqe_body(), headers=submitter)
    assert denied.status_code == 403 and rules(denied.json(), "deny") == ["PR-008"]
    (finding,) = denied.json()["decision"]["deny"]
    assert finding["evidence"] == {"sandbox": "SBX-2026-014", "limit": "maxFailedJobs", "used": 5, "allowed": 5}
    manifest, circuit = example("bell-local")  # free: no failure budget applies
    assert client.post("/v1/check", json={"manifest": manifest, "circuit": circuit},
                       headers=auth(token_for(client, "submitter", "platform-qa"))).json()["decision"]["allow"]

    waiver = client.post("/v1/waivers", json={"rule": "PR-008", "team": "materials-rnd", "sandbox": "SBX-2026-014",
                                              "reason": "one more run to finish the measurement", "expires": sandbox_request()["end"]},
                         headers=submitter).json()
    assert client.post(f"/v1/waivers/{waiver['id']}/approve", headers=compliance).status_code == 200
    waived = client.post("/v1/submissions", json=vqe_body(), headers=submitter)
    assert waived.status_code == 201 and rules(waived.json(), "waived") == ["PR-008"]
    assert waived.json()["decision"]["waived"][0]["waiver"]["id"] == waiver["id"]
    progress = client.get("/v1/sandboxes/SBX-2026-014/pilot", headers=compliance).json()
    assert progress["failure_budget"]["state"] == "spent" and progress["decisions"]["waived"] == 1
