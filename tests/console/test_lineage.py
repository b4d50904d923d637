"""The lineage page and its graph's JSON, in-process on SQLite and PostgreSQL, over lineage seeded the real
way: submissions through `POST /v1/submissions`, run by the worker on Aer, their events delivered from the
outbox into the service's own lineage store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.console import lineage_graph
from govern.dispatch.worker import Worker, WorkerOptions
from govern.lineage.delivery import Deliverer, lineage_client
from govern.settings import Settings
from tests.api.test_api import auth, example
from tests.console.test_console_session import sign_in, token_for

pytestmark = pytest.mark.slow

QA_RUN = "job:govern.platform-qa:bell-calibration"
RND_RUN = "job:govern.materials-rnd:bell-calibration"
DENIED_RUN = "job:govern.materials-rnd:churn-qsvm"
BASELINES = "dataset:s3://qa-data:baselines/bell"
QA_RESULTS = "dataset:govern.platform-qa:bell-calibration/results"


@pytest.fixture
def client(database_url, monkeypatch):
    """The service with no background deliverer (`seeded` delivers the outbox itself) and no transport
    configured, so the events reach its own lineage store."""
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        yield client


def submit(client, name: str, team: str) -> dict:
    manifest, circuit = example(name)
    manifest["metadata"]["team"] = team
    response = client.post("/v1/submissions", json={"manifest": manifest, "circuit": circuit},
                           headers=auth(token_for(client, "submitter", team)))
    assert response.status_code in (201, 403), response.text
    return response.json()


@pytest.fixture
def seeded(client) -> dict[str, dict]:
    """platform-qa's and materials-rnd's Bell runs on the same baseline dataset, run on Aer; and materials-rnd's
    denied churn experiment (personal data not pseudonymized)."""
    submitted = {"qa": submit(client, "bell-local", "platform-qa"), "rnd": submit(client, "bell-local", "materials-rnd"),
                 "denied": submit(client, "pii-not-pseudonymized", "materials-rnd")}
    Worker(client.app.state.db, WorkerOptions(lease_s=5, poll_s=0.05, job_timeout_s=60, call_grace_s=2)).run_until_idle()
    Deliverer(client.app.state.db, lineage_client(client.app.state.db)).deliver_pending()
    return submitted


def graph(client, node: str, **params) -> dict:
    response = client.get("/ui/lineage/graph.json", params={"node": node, **params})
    assert response.status_code == 200, response.text
    return response.json()


def node_of(answer: dict, node_id: str) -> dict:
    return next(node for node in answer["nodes"] if node["id"] == node_id)


def facts(node: dict, title: str) -> dict[str, str]:
    return dict(next(section for section in node["sections"] if section["title"] == title)["facts"])


def test_compliance_finds_a_run_and_reads_its_facets(client, seeded):
    sign_in(client, token_for(client, "compliance", "audit"))
    home = client.get("/ui/lineage")
    assert home.status_code == 200 and "Jobs updated last" in home.text and "churn-qsvm" in home.text
    found = client.get("/ui/lineage", params={"q": "BELL"})
    assert found.status_code == 200 and f'href="/ui/lineage?node={QA_RUN.replace(":", "%3A")}"' in found.text
    page = client.get("/ui/lineage", params={"node": QA_RUN})
    assert page.status_code == 200 and 'id="graph"' in page.text and "/ui/static/lineage.js" in page.text
    assert 'data-graph="/ui/lineage/graph.json?node=job%3Agovern.platform-qa%3Abell-calibration&amp;depth=2&amp;direction=both"' in page.text

    answer = graph(client, QA_RUN)
    assert answer["start"] == QA_RUN and answer["truncated"] is False
    assert {node["id"] for node in answer["nodes"]} == {QA_RUN, BASELINES, QA_RESULTS, RND_RUN}
    assert {(edge["source"], edge["target"]) for edge in answer["edges"]} == {(BASELINES, QA_RUN), (QA_RUN, QA_RESULTS), (BASELINES, RND_RUN)}
    run = node_of(answer, QA_RUN)
    decision_id = seeded["qa"]["decision"]["decision_id"]
    assert run["kind"] == "run" and run["decision"] == {"id": decision_id, "outcome": "allowed"}
    assert facts(run, "Decision")["Outcome"] == "allowed"
    quantum = facts(run, "Quantum job")
    assert (quantum["Vendor"], quantum["Device"], quantum["Shots"], quantum["Transpiler seed"]) == ("local", "aer_simulator", "2048", "11")
    assert facts(run, "Procurement")["Actual cost"] == "0.0"
    assert facts(run, "Latest run")["State"] == "COMPLETED"
    links = {link["label"]: link["href"] for link in run["links"]}
    assert links["Decision: allowed"] == f"/ui/decisions/{decision_id}"
    assert links["Everything upstream of this"] == "/ui/lineage?node=job%3Agovern.platform-qa%3Abell-calibration&depth=20&direction=upstream"
    dataset = node_of(answer, BASELINES)
    assert dataset["kind"] == "dataset" and facts(dataset, "Classification") == {
        "Level": "internal", "Contains PII": "no", "Pseudonymized": "no", "Residency": "us-east"}
    result = node_of(answer, QA_RESULTS)
    assert result["kind"] == "result" and facts(result, "Dataset")["Fields"] == "bitstring, count"
    assert client.get(links["Decision: allowed"]).status_code == 200


def test_upstream_downstream_depth_and_a_denied_run(client, seeded):
    sign_in(client, token_for(client, "compliance", "audit"))
    upstream = graph(client, QA_RESULTS, depth=20, direction="upstream")
    assert {node["id"] for node in upstream["nodes"]} == {QA_RESULTS, QA_RUN, BASELINES}
    downstream = graph(client, BASELINES, direction="downstream")
    assert {node["id"] for node in downstream["nodes"]} == {BASELINES, QA_RUN, RND_RUN, QA_RESULTS,
                                                            "dataset:govern.materials-rnd:bell-calibration/results"}
    assert [node["id"] for node in graph(client, QA_RUN, depth=0)["nodes"]] == [QA_RUN]
    denied = node_of(graph(client, DENIED_RUN, depth=1), DENIED_RUN)
    assert denied["decision"]["outcome"] == "denied" and "DC-003" in facts(denied, "Decision")["Denied by"]
    assert facts(denied, "Latest run")["State"] == "ABORTED"


def test_a_node_cap_cuts_the_graph_and_says_so(client, seeded, monkeypatch):
    sign_in(client, token_for(client, "compliance", "audit"))
    monkeypatch.setattr(lineage_graph, "MAX_NODES", 2)
    answer = graph(client, BASELINES)
    assert answer["truncated"] is True and len(answer["nodes"]) == 2 and answer["maxNodes"] == 2
    shown = {node["id"] for node in answer["nodes"]}
    assert all(edge["source"] in shown and edge["target"] in shown for edge in answer["edges"])


def test_a_submitter_sees_their_teams_runs_and_every_dataset(client, seeded):
    sign_in(client, token_for(client, "submitter", "platform-qa"))
    answer = graph(client, BASELINES)
    assert {node["id"] for node in answer["nodes"]} == {BASELINES, QA_RUN, QA_RESULTS}
    assert "materials-rnd" not in str(answer)
    assert "churn-qsvm" not in client.get("/ui/lineage").text
    hidden = client.get("/ui/lineage", params={"node": DENIED_RUN})
    assert hidden.status_code == 404 and "no lineage node" in hidden.text
    refused = client.get("/ui/lineage/graph.json", params={"node": RND_RUN})
    assert refused.status_code == 404 and refused.json()["detail"] == f"no lineage node {RND_RUN}"


def test_bad_parameters_are_a_4xx_and_a_lapsed_session_a_401(client, seeded):
    signed_out = client.get("/ui/lineage/graph.json", params={"node": QA_RUN}, follow_redirects=False)
    assert signed_out.status_code == 401 and signed_out.json() == {"detail": "the session has ended: sign in again"}
    assert client.get("/ui/lineage", follow_redirects=False).status_code == 303
    sign_in(client, token_for(client, "compliance", "audit"))
    for params in ({"node": QA_RUN, "depth": 21}, {"node": QA_RUN, "depth": "x"}, {"node": QA_RUN, "direction": "sideways"},
                   {"node": "table:x:y"}, {"node": "x" * 2001}, {"q": "q" * 1001}):
        page = client.get("/ui/lineage", params=params)
        assert page.status_code == 422 and "<!doctype html>" in page.text, params
    for params in ({}, {"node": QA_RUN, "depth": -1}, {"node": QA_RUN, "direction": "sideways"}, {"node": "table:x:y"}):
        answer = client.get("/ui/lineage/graph.json", params=params)
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/json" and answer.json()["detail"], params
    missing = client.get("/ui/lineage/graph.json", params={"node": "dataset:s3://nowhere:nothing"})
    assert missing.status_code == 404
    assert client.get("/ui/lineage", params={"depth": "", "direction": "", "q": ""}).status_code == 200

