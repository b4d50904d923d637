"""Procurement over the API on SQLite and PostgreSQL: vendors, sandbox requests and approvals, live context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.settings import Settings
from tests.api.test_api import auth, example, token_for

pytestmark = pytest.mark.slow


@pytest.fixture
def client(database_url):
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True))) as client:
        yield client


def sandbox_request(**overrides):
    start = datetime.now(UTC) - timedelta(days=7)
    body = {
        "id": "SBX-2026-014", "team": "materials-rnd", "vendor": "ibm", "devices": ["ibm_brisbane"],
        "start": start.isoformat(), "end": (start + timedelta(weeks=10)).isoformat(), "budget": "25000.00",
    }
    return {**body, **overrides}


def test_sandbox_flow_gives_the_check_its_live_context(client):
    procurement = auth(token_for(client, "procurement", "procurement"))
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    manifest, circuit = example("vqe-h2-ibm")
    body = {"manifest": manifest, "circuit": circuit}

    denied = client.post("/v1/check", json=body, headers=submitter).json()["decision"]
    assert {f["rule"] for f in denied["deny"]} == {"PR-002", "PR-007"}  # no sandbox, vendor not onboarded

    assert client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True, "regions": ["us-east"]}, headers=submitter).status_code == 403
    vendor = client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True, "regions": ["us-east"]}, headers=procurement)
    assert vendor.status_code == 200 and vendor.json()["dataProcessingAgreement"] is True

    requested = client.post("/v1/sandboxes", json=sandbox_request(), headers=submitter)
    assert requested.status_code == 201 and requested.json()["status"] == "requested"
    still_denied = client.post("/v1/check", json=body, headers=submitter).json()["decision"]
    assert [f["rule"] for f in still_denied["deny"]] == ["PR-002"]  # requested is not approved

    approved = client.post("/v1/sandboxes/SBX-2026-014/approve", headers=procurement)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    allowed = client.post("/v1/check", json=body, headers=submitter).json()
    assert allowed["outcome"] == "allowed", allowed["decision"]["deny"]
    assert client.post("/v1/sandboxes/SBX-2026-014/approve", headers=procurement).status_code == 409


def test_sandbox_requests_are_validated(client):
    procurement = auth(token_for(client, "procurement", "procurement"))
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    client.put("/v1/vendors/ibm", json={}, headers=procurement)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    too_long = sandbox_request(start=start.isoformat(), end=(start + timedelta(weeks=13)).isoformat())
    response = client.post("/v1/sandboxes", json=too_long, headers=submitter)
    assert response.status_code == 422 and "12 weeks" in response.text
    assert client.post("/v1/sandboxes", json=sandbox_request(vendor="nobody"), headers=submitter).status_code == 422
    assert client.post("/v1/sandboxes", json=sandbox_request(team="quantum-finance"), headers=submitter).status_code == 403
    assert client.post("/v1/sandboxes", json=sandbox_request(), headers=submitter).status_code == 201
    assert client.post("/v1/sandboxes", json=sandbox_request(), headers=submitter).status_code == 409
    assert client.post("/v1/sandboxes/SBX-404/approve", headers=procurement).status_code == 404
    assert client.post("/v1/sandboxes/SBX-2026-014/reject", headers=procurement).json()["status"] == "rejected"


def test_nobody_approves_their_own_sandbox(client):
    procurement_token = token_for(client, "procurement", "procurement")
    client.put("/v1/vendors/ibm", json={}, headers=auth(procurement_token))
    assert client.post("/v1/sandboxes", json=sandbox_request(), headers=auth(procurement_token)).status_code == 201
    response = client.post("/v1/sandboxes/SBX-2026-014/approve", headers=auth(procurement_token))
    assert response.status_code == 403 and "separation of duties" in response.json()["detail"]
    other = auth(token_for(client, "procurement", "procurement"))
    assert client.post("/v1/sandboxes/SBX-2026-014/approve", headers=other).status_code == 200


def test_submitters_list_only_their_teams_sandboxes(client):
    procurement = auth(token_for(client, "procurement", "procurement"))
    client.put("/v1/vendors/ibm", json={}, headers=procurement)
    client.post("/v1/sandboxes", json=sandbox_request(), headers=procurement)
    client.post("/v1/sandboxes", json=sandbox_request(id="SBX-QF-001", team="quantum-finance"), headers=procurement)
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    assert [s["id"] for s in client.get("/v1/sandboxes", params={"team": "materials-rnd"}, headers=submitter).json()] == ["SBX-2026-014"]
    assert [s["id"] for s in client.get("/v1/sandboxes", headers=submitter).json()] == ["SBX-2026-014"]  # no team: its own
    refused = client.get("/v1/sandboxes", params={"team": "quantum-finance"}, headers=submitter)
    assert refused.status_code == 403 and "not for team 'quantum-finance'" in refused.json()["detail"]
    assert len(client.get("/v1/sandboxes", headers=procurement).json()) == 2
    assert client.get("/v1/sandboxes", headers=auth(token_for(client, "producer", "ingest"))).status_code == 403


def test_submitters_list_only_their_teams_waivers(client):
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    for team in ("materials-rnd", "quantum-finance"):
        request = {"rule": "DC-003", "team": team, "reason": "DPO sign-off DPO-2026-200 for on-prem use", "expires": expires}
        assert client.post("/v1/waivers", json=request, headers=auth(token_for(client, "submitter", team))).status_code == 201
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    assert [w["team"] for w in client.get("/v1/waivers", headers=submitter).json()] == ["materials-rnd"]
    assert client.get("/v1/waivers", params={"team": "quantum-finance"}, headers=submitter).status_code == 403
    compliance = auth(token_for(client, "compliance", "audit"))
    assert sorted(w["team"] for w in client.get("/v1/waivers", headers=compliance).json()) == ["materials-rnd", "quantum-finance"]
    assert client.get("/v1/waivers", headers=auth(token_for(client, "procurement", "procurement"))).status_code == 403


@pytest.mark.parametrize(("rule", "why"), [("DC-001", "is not waivable"), ("XX-999", "is not in the policy bundle's rule catalogue")])
def test_a_waiver_of_a_rule_no_waiver_can_lift_is_refused_when_requested(client, rule, why):
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    request = {"rule": rule, "team": "materials-rnd", "reason": "DPO sign-off DPO-2026-200", "expires": expires}
    refused = client.post("/v1/waivers", json=request, headers=submitter)
    assert refused.status_code == 422 and why in refused.json()["detail"] and rule in refused.json()["detail"]
    assert client.get("/v1/waivers", headers=submitter).json() == []


def test_waivers_turn_denies_into_recorded_waived_entries(client):
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    compliance = auth(token_for(client, "compliance", "audit"))
    manifest, circuit = example("bell-local")
    manifest = dict(manifest, metadata=dict(manifest["metadata"], team="materials-rnd"))
    manifest["spec"] = dict(manifest["spec"], datasets=[dict(manifest["spec"]["datasets"][0], containsPII=True)], backend={"vendor": "onprem", "device": "onprem_iqm_spark"})
    body = {"manifest": manifest, "circuit": circuit}
    assert [f["rule"] for f in client.post("/v1/check", json=body, headers=submitter).json()["decision"]["deny"]] == ["DC-003"]

    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    request = {"rule": "DC-003", "team": "materials-rnd", "experiment": manifest["metadata"]["name"], "reason": "DPO sign-off DPO-2026-200 for on-prem use", "expires": expires}
    waiver = client.post("/v1/waivers", json=request, headers=submitter)
    assert waiver.status_code == 201 and waiver.json()["status"] == "requested"
    waiver_id = waiver.json()["id"]
    assert client.post(f"/v1/waivers/{waiver_id}/approve", headers=submitter).status_code == 403
    assert client.post(f"/v1/waivers/{waiver_id}/approve", headers=compliance).json()["status"] == "approved"

    decision = client.post("/v1/check", json=body, headers=submitter).json()["decision"]
    assert decision["allow"] and [f["rule"] for f in decision["waived"]] == ["DC-003"]
    assert decision["waived"][0]["waiver"]["id"] == waiver_id

    assert client.post(f"/v1/waivers/{waiver_id}/revoke", headers=compliance).json()["status"] == "revoked"
    assert not client.post("/v1/check", json=body, headers=submitter).json()["decision"]["allow"]
    assert client.post(f"/v1/waivers/{waiver_id}/approve", headers=compliance).status_code == 409
    past = dict(request, expires=(datetime.now(UTC) - timedelta(days=1)).isoformat())
    assert client.post("/v1/waivers", json=past, headers=submitter).status_code == 422
    for too_long in ({"experiment": "x" * 64}, {"sandbox": "S" * 201}):
        assert client.post("/v1/waivers", json=dict(request, **too_long), headers=submitter).status_code == 422
    assert len(client.get("/v1/waivers", params={"team": "materials-rnd"}, headers=submitter).json()) == 1


def test_sandbox_lifecycle_and_revocation(client):
    procurement = auth(token_for(client, "procurement", "procurement"))
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=procurement)
    assert client.post("/v1/sandboxes", json=sandbox_request(budget="4.00"), headers=submitter).json()["lifecycle"] == "requested"
    approved = client.post("/v1/sandboxes/SBX-2026-014/approve", headers=procurement).json()
    assert approved["lifecycle"] == "active"
    future = datetime.now(UTC) + timedelta(days=3)
    later = sandbox_request(id="SBX-LATER", start=future.isoformat(), end=(future + timedelta(weeks=7)).isoformat())
    client.post("/v1/sandboxes", json=later, headers=submitter)
    assert client.post("/v1/sandboxes/SBX-LATER/approve", headers=procurement).json()["lifecycle"] == "approved"

    manifest, circuit = example("vqe-h2-ibm")  # estimated 4.80 USD: over the 4.00 budget
    denied = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=submitter).json()
    assert [f["rule"] for f in denied["decision"]["deny"]] == ["PR-005"]
    revoked = client.post("/v1/sandboxes/SBX-2026-014/revoke", headers=procurement).json()
    assert revoked["lifecycle"] == "revoked"
    after = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=submitter).json()
    assert "PR-002" in [f["rule"] for f in after["decision"]["deny"]]
    assert client.post("/v1/sandboxes/SBX-2026-014/approve", headers=procurement).status_code == 409
    assert client.post("/v1/sandboxes/SBX-2026-014/revoke", headers=procurement).status_code == 409
