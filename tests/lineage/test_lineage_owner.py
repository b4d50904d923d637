"""Lineage that only its owner writes, on SQLite and PostgreSQL: govern's namespaces, govern's facets and
the runs govern created are refused (403, nothing stored) from any token but a govern service's."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.lineage.delivery import Deliverer, lineage_client
from govern.settings import Settings
from tests.api.test_api import auth, example, token_for
from tests.lineage.test_lineage_store import run_event

pytestmark = pytest.mark.slow

NOW = "2026-12-01T10:00:00Z"


@pytest.fixture
def client(database_url, monkeypatch):
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def submitted(client) -> dict:
    """platform-qa's allowed bell-local submission: govern issued its run id and queued its START."""
    manifest, circuit = example("bell-local")
    response = client.post("/v1/submissions", json={"manifest": manifest, "circuit": circuit},
                           headers=auth(token_for(client, "submitter", "platform-qa")))
    assert response.status_code == 201, response.text
    return response.json()


def stored(client) -> list[str]:
    compliance = auth(token_for(client, "compliance", "audit"))
    return client.get("/api/v1/lineage/events", headers=compliance).text.splitlines()


def deliver(client) -> None:
    Deliverer(client.app.state.db, lineage_client(client.app.state.db)).deliver_pending()


def test_a_producer_cannot_fail_another_teams_run(client, submitted):
    """The attack as filed: a producer token posts FAIL for platform-qa's run into govern.platform-qa, with a
    forged decisionId and an input dataset the run never read."""
    run_id, decision_id = submitted["submission"]["run_id"], submitted["decision"]["decision_id"]
    forged = run_event("FAIL", run_id, "govern.platform-qa", "bell-local", NOW, inputs=[("s3://crm-data", "customers/pii")],
                       decision=("forged-decision", False), producer="https://attacker.example")
    producer = auth(token_for(client, "producer", "lineage"))
    response = client.post("/api/v1/lineage", json=forged, headers=producer)
    assert response.status_code == 403, response.text
    assert "govern.platform-qa' is govern's own: only govern itself writes it" in response.json()["detail"]
    assert stored(client) == []

    deliver(client)  # govern's own START reaches its store, untouched by the attempt
    compliance = auth(token_for(client, "compliance", "audit"))
    run = client.get(f"/api/v1/lineage/runs/{run_id}/upstream", headers=compliance).json()["run"]
    assert (run["state"], run["decisionId"], run["allow"]) == ("START", decision_id, True)
    assert [dataset["namespace"] for dataset in run["inputs"]] == ["s3://qa-data"]
    assert client.post("/api/v1/lineage", json=forged, headers=producer).status_code == 403
    assert len(stored(client)) == 1


def test_every_claim_on_govern_is_refused_from_other_tokens(client, submitted):
    run_id = submitted["submission"]["run_id"]
    own = str(uuid.uuid4())
    claims = {
        "was created by govern": run_event("FAIL", run_id, "airflow-prod", "etl.curate", NOW),
        "is govern's own": run_event("START", own, "GOVERN.platform-qa", "bell-local", NOW),
        "output dataset govern.platform-qa:bell-local/results": run_event(
            "COMPLETE", own, "airflow-prod", "etl.curate", NOW, outputs=[("govern.platform-qa", "bell-local/results")]),
        "run facet 'govern_policyDecision'": run_event("START", own, "airflow-prod", "etl.curate", NOW, decision=("d-1", True)),
        "dataset namespace 'govern'": {"eventTime": NOW, "producer": "https://airflow", "dataset": {"namespace": "govern", "name": "x"},
                                       "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"},
    }
    for role in ("producer", "admin"):
        headers = auth(token_for(client, role, "platform"))
        for reason, event in claims.items():
            response = client.post("/api/v1/lineage", json=event, headers=headers)
            assert response.status_code == 403 and reason in response.json()["detail"], (role, reason, response.text)
            assert f"role '{role}' may not lineage.write_owned" in response.json()["detail"]
    assert stored(client) == []

    reader = run_event("START", own, "airflow-prod", "etl.report", NOW, inputs=[("govern.platform-qa", "bell-local/results")],
                       parent=run_id)
    producer = auth(token_for(client, "producer", "platform"))
    assert client.post("/api/v1/lineage", json=reader, headers=producer).status_code == 201  # reading results is not a claim


def test_a_govern_service_writes_its_own_lineage(client, submitted):
    run_id = submitted["submission"]["run_id"]
    service = auth(token_for(client, "service", "platform"))
    complete = run_event("COMPLETE", run_id, "govern.platform-qa", "bell-local", NOW, decision=(submitted["decision"]["decision_id"], True))
    assert client.post("/api/v1/lineage", json=complete, headers=service).status_code == 201
    assert client.post("/api/v1/lineage", json=complete, headers=service).json() == {"stored": False}
