"""Submissions on SQLite and PostgreSQL: recorded decisions, budget reservations, idempotency, listing."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from govern.admission.transaction import submit
from govern.api import create_app
from govern.db.tables import JobRecord, LedgerEntry, SandboxRecord, SubmissionRecord
from govern.settings import Settings
from tests.api.test_api import auth, example, token_for
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow


@pytest.fixture
def client(database_url):
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True))) as client:
        yield client


def funded(client, budget: str) -> dict[str, str]:
    """An approved IBM sandbox for materials-rnd with the given budget; returns a submitter's headers."""
    procurement = auth(token_for(client, "procurement", "procurement"))
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=procurement)
    client.post("/v1/sandboxes", json=sandbox_request(budget=budget), headers=submitter)
    assert client.post("/v1/sandboxes/SBX-2026-014/approve", headers=procurement).status_code == 200
    return submitter


def vqe_body() -> dict:
    manifest, circuit = example("vqe-h2-ibm")
    return {"manifest": manifest, "circuit": circuit}


def test_submissions_reserve_budget_until_it_runs_out(client):
    submitter = funded(client, "10.00")  # the run is estimated at 4.80 USD
    first = client.post("/v1/submissions", json=vqe_body(), headers=submitter)
    assert first.status_code == 201, first.json()
    assert first.json()["submission"]["job_status"] == "queued"
    assert client.post("/v1/submissions", json=vqe_body(), headers=submitter).status_code == 201
    third = client.post("/v1/submissions", json=vqe_body(), headers=submitter)
    assert third.status_code == 403
    assert [f["rule"] for f in third.json()["decision"]["deny"]] == ["PR-005"]
    denied_id = third.json()["submission"]["id"]
    recorded = client.get(f"/v1/submissions/{denied_id}", headers=submitter).json()
    assert recorded["submission"]["outcome"] == "denied" and recorded["submission"]["job_status"] is None
    with Session(client.app.state.db) as session:
        sandbox = session.get(SandboxRecord, "SBX-2026-014")
        assert str(sandbox.reserved) == "9.60"
        assert [str(e.amount) for e in session.exec(select(LedgerEntry))] == ["4.80", "4.80"]
        assert len(session.exec(select(JobRecord)).all()) == 2


def test_idempotency_key_never_creates_two_submissions(client):
    submitter = funded(client, "100.00")
    headers = {**submitter, "Idempotency-Key": "ci-run-42"}
    first = client.post("/v1/submissions", json=vqe_body(), headers=headers)
    again = client.post("/v1/submissions", json=vqe_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["submission"]["id"] == again.json()["submission"]["id"]
    assert first.json()["decision"]["decision_id"] == again.json()["decision"]["decision_id"]
    other = vqe_body()
    other["manifest"] = dict(other["manifest"], spec=dict(other["manifest"]["spec"], shots=100))
    assert client.post("/v1/submissions", json=other, headers=headers).status_code == 422
    with Session(client.app.state.db) as session:
        assert len(session.exec(select(SubmissionRecord)).all()) == 1


def test_listing_filters_and_pages(client):
    submitter = funded(client, "10.00")
    for _ in range(3):
        client.post("/v1/submissions", json=vqe_body(), headers=submitter)
    manifest, circuit = example("bell-local")  # another team's
    qa = auth(token_for(client, "submitter", "platform-qa"))
    assert client.post("/v1/submissions", json={"manifest": manifest, "circuit": circuit}, headers=qa).status_code == 201
    params = {"team": "materials-rnd"}
    everything = client.get("/v1/submissions", params=params, headers=submitter).json()
    assert [s["outcome"] for s in everything["items"]] == ["denied", "warned", "allowed"]  # PR-102: budget runs low
    denied = client.get("/v1/submissions", params={**params, "rule": "PR-005"}, headers=submitter).json()["items"]
    assert len(denied) == 1 and denied[0]["outcome"] == "denied"
    page = client.get("/v1/submissions", params={**params, "limit": 2}, headers=submitter).json()
    rest = client.get("/v1/submissions", params={**params, "limit": 2, "cursor": page["next_cursor"]}, headers=submitter).json()
    assert [s["id"] for s in page["items"] + rest["items"]] == [s["id"] for s in everything["items"]]
    assert rest["next_cursor"] is None
    assert client.get("/v1/submissions", headers=submitter).json() == everything  # no team: the submitter's own
    compliance = auth(token_for(client, "compliance", "audit"))
    assert len(client.get("/v1/submissions", headers=compliance).json()["items"]) == 4
    assert client.get("/v1/submissions", params={"team": "quantum-finance"}, headers=submitter).status_code == 403
    assert client.get("/v1/submissions/nope", headers=submitter).status_code == 404


def test_the_rule_filter_matches_rules_that_fired_not_waivers_in_the_context(client):
    """A live waiver puts its rule id into every decision's policy input; only decisions it fired in match."""
    from datetime import UTC, datetime, timedelta

    submitter = funded(client, "10.00")
    compliance = auth(token_for(client, "compliance", "audit"))
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    waiver = client.post("/v1/waivers", headers=submitter, json={
        "rule": "DC-003", "team": "materials-rnd", "reason": "DPO sign-off DPO-2026-200 for on-prem use", "expires": expires,
    }).json()
    assert client.post(f"/v1/waivers/{waiver['id']}/approve", headers=compliance).json()["status"] == "approved"
    allowed = client.post("/v1/submissions", json=vqe_body(), headers=submitter)
    warned = client.post("/v1/submissions", json=vqe_body(), headers=submitter)  # PR-102: the budget runs low
    assert allowed.json()["submission"]["outcome"] == "allowed" and warned.json()["submission"]["outcome"] == "warned"
    params = {"team": "materials-rnd"}
    assert client.get("/v1/submissions", params={**params, "rule": "DC-003"}, headers=submitter).json()["items"] == []
    assert client.get("/v1/audit/decisions", params={"rule": "DC-003"}, headers=compliance).text == ""
    by_rule = client.get("/v1/submissions", params={**params, "rule": "PR-102"}, headers=submitter).json()["items"]
    assert [s["id"] for s in by_rule] == [warned.json()["submission"]["id"]]


def test_invalid_submissions_are_422_and_not_recorded(client):
    submitter = funded(client, "10.00")
    body = vqe_body()
    body["manifest"] = dict(body["manifest"], spec=dict(body["manifest"]["spec"], shotz=1))
    assert client.post("/v1/submissions", json=body, headers=submitter).status_code == 422
    with Session(client.app.state.db) as session:
        assert session.exec(select(SubmissionRecord)).all() == []


def test_concurrent_submissions_cannot_overspend(client):
    """Budget for one run only: of two simultaneous submissions, exactly one is allowed."""
    funded(client, "6.00")
    body = vqe_body()
    app = client.app
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def one(index: int) -> None:
        with Session(app.state.db) as session:
            barrier.wait()
            result = submit(session, app.state.checker, app.state.engine, body["manifest"], body["circuit"],
                            actor=f"actor-{index}", idempotency_key=None, max_circuit_bytes=1_000_000,
                            bundle_data=app.state.bundle.data)
            session.commit()
            outcomes.append(result.submission.outcome)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["allowed", "denied"]
