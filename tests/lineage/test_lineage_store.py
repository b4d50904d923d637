"""The lineage store on SQLite and PostgreSQL: ingest with dedup, the graph, a dataset's readers, a run's
upstream across other producers' jobs, the export, and who sees what."""

from __future__ import annotations

import json
import secrets
import uuid

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.api.routes import lineage
from govern.db.database import session_scope
from govern.lineage import limits
from govern.lineage.store import query, write
from govern.records.errors import RecordError
from govern.settings import Settings
from tests.api.test_api import auth, token_for

pytestmark = pytest.mark.slow

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
RAW = ("postgres://warehouse:5432", "public.measurements")
CLEAN = ("s3://lake", "curated/measurements")
RESULTS = ("s3://govern-results", "materials-rnd/vqe-h2")


def run_event(event_type, run_id, namespace, name, time, *, inputs=(), outputs=(), decision=None, parent=None, producer="https://airflow.apache.org"):
    facets = {}
    if decision is not None:
        facets["govern_policyDecision"] = {"decisionId": decision[0], "allow": decision[1]}
    if parent is not None:
        facets["parent"] = {"run": {"runId": parent}, "job": {"namespace": namespace, "name": "parent"}}
    return {
        "eventType": event_type, "eventTime": time, "producer": producer, "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id, "facets": facets}, "job": {"namespace": namespace, "name": name},
        "inputs": [{"namespace": ns, "name": n} for ns, n in inputs], "outputs": [{"namespace": ns, "name": n} for ns, n in outputs],
    }


def pipeline() -> tuple[dict[str, str], list[dict]]:
    """dbt builds RAW; Airflow (two runs) turns RAW into CLEAN; materials-rnd's experiment reads CLEAN
    between the two Airflow runs (its submission is the parent run) and writes RESULTS; quantum-finance's
    experiment also reads CLEAN."""
    runs = {key: str(uuid.uuid4()) for key in ("dbt", "airflow", "airflow_later", "vqe", "submission", "finance")}
    events = [
        run_event("START", runs["dbt"], "dbt://analytics", "models.measurements", "2026-11-01T00:00:00Z", outputs=[RAW], producer="https://dbt"),
        run_event("COMPLETE", runs["dbt"], "dbt://analytics", "models.measurements", "2026-11-01T00:10:00Z", outputs=[RAW], producer="https://dbt"),
        run_event("START", runs["airflow"], "airflow-prod", "etl.curate", "2026-11-01T01:00:00Z", inputs=[RAW], outputs=[CLEAN]),
        run_event("COMPLETE", runs["airflow"], "airflow-prod", "etl.curate", "2026-11-01T01:30:00+00:00", inputs=[RAW], outputs=[CLEAN]),
        run_event("START", runs["vqe"], "govern.materials-rnd", "vqe-h2", "2026-11-01T02:00:00Z", inputs=[CLEAN], outputs=[RESULTS],
                  decision=("dec-1", True), parent=runs["submission"].upper(), producer="https://govern.dev"),
        run_event("COMPLETE", runs["vqe"], "govern.materials-rnd", "vqe-h2", "2026-11-01T03:00:00Z", outputs=[RESULTS], producer="https://govern.dev"),
        run_event("START", runs["airflow_later"], "airflow-prod", "etl.curate", "2026-11-02T01:00:00Z", inputs=[RAW], outputs=[CLEAN]),
        run_event("START", runs["finance"], "govern.quantum-finance", "qaoa", "2026-11-01T04:00:00Z", inputs=[CLEAN],
                  decision=("dec-2", False), producer="https://govern.dev"),
        run_event("FAIL", runs["finance"], "govern.quantum-finance", "qaoa", "2026-11-01T04:05:00Z", producer="https://govern.dev"),
    ]
    return runs, events


@pytest.fixture
def client(database_url):
    app = create_app(Settings(database_url=database_url, migrate_on_start=True))
    if not any(getattr(route, "path", "").startswith("/api/v1/lineage") for route in app.routes):
        app.include_router(lineage.router)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def loaded(client):
    """The pipeline posted by its producers (govern's own events by a govern service); returns its run ids."""
    runs, events = pipeline()
    producer, service = auth(token_for(client, "producer", "platform")), auth(token_for(client, "service", "platform"))
    for event in events:
        sender = service if event["job"]["namespace"].startswith("govern.") else producer
        assert client.post("/api/v1/lineage", json=event, headers=sender).status_code == 201
    return runs


def ids(graph: dict) -> set[str]:
    return {node["id"] for node in graph["graph"]}


def node_id(kind: str, dataset: tuple[str, str]) -> str:
    return f"{kind}:{dataset[0]}:{dataset[1]}"


def test_ingest_dedups_and_folds_runs(database):
    runs, events = pipeline()
    with session_scope(database) as session:
        assert write.ingest_many(session, events + events[:3], batch_size=4) == len(events)
    with session_scope(database) as session:
        reordered = json.loads(json.dumps(events[0], sort_keys=True))  # same content, other key order
        assert write.ingest(session, dict(reversed(list(reordered.items())))) is False
        assert write.ingest_many(session, events) == 0
        vqe = query.run_upstream(session, runs["vqe"], None)["run"]
        finance = query.run_upstream(session, runs["finance"], None)["run"]
    assert (vqe["state"], vqe["startedAt"], vqe["endedAt"]) == ("COMPLETE", "2026-11-01T02:00:00+00:00", "2026-11-01T03:00:00+00:00")
    assert (vqe["decisionId"], vqe["allow"], vqe["team"]) == ("dec-1", True, "materials-rnd")
    assert (finance["state"], finance["allow"]) == ("FAIL", False)

    late_start = run_event("START", runs["vqe"], "govern.materials-rnd", "vqe-h2", "2026-11-01T01:59:00Z")
    with session_scope(database) as session:
        assert write.ingest(session, late_start) is True  # arrives last, happened first
        run = query.run_upstream(session, runs["vqe"], None)["run"]
    assert (run["state"], run["startedAt"]) == ("COMPLETE", "2026-11-01T01:59:00+00:00")


def test_names_at_the_length_limits_are_stored(database):
    """Random (incompressible) names as long as allowed still fit PostgreSQL's index entries."""
    namespace, name = secrets.token_hex(128)[: limits.NAMESPACE_MAX_BYTES], secrets.token_hex(limits.NAME_MAX_BYTES // 2)
    run_id = str(uuid.uuid4())
    event = run_event("START", run_id, namespace, name, "2026-11-01T00:00:00Z", inputs=[(namespace, name)])
    with session_scope(database) as session:
        assert write.ingest(session, event) is True
    with session_scope(database) as session:
        assert query.dataset_runs(session, namespace, name, None)["runs"][0]["runId"] == run_id
        with pytest.raises(RecordError, match="longer than 1000 bytes"):
            write.ingest(session, run_event("START", run_id, namespace, name + "é", "2026-11-01T00:00:00Z"))


def test_bad_events_are_refused_with_a_reason(client):
    producer = auth(token_for(client, "producer", "platform"))
    good = run_event("START", str(uuid.uuid4()), "airflow-prod", "etl.curate", "2026-11-01T00:00:00Z")
    bad_events = {
        "eventTime": {k: v for k, v in good.items() if k != "eventTime"},
        "schemaURL": {**good, "schemaURL": ""},
        "UUID": {**good, "run": {"runId": "run-1"}},
        "job is required": {**good, "job": "etl"},
        "job.name": {**good, "job": {"namespace": "airflow-prod"}},
        "no UTC offset": {**good, "eventTime": "2026-11-01T00:00:00"},
        "not an RFC 3339": {**good, "eventTime": "yesterday"},
        "eventType must be one of": {**good, "eventType": "DONE"},
        "inputs must be a list": {**good, "inputs": {"namespace": "x"}},
        "outputs[0].namespace": {**good, "outputs": [{"name": "x"}]},
        "longer than 255 bytes": {**good, "job": {"namespace": "n" * 256, "name": "x"}},
        "allow must be true or false": {**good, "run": {**good["run"], "facets": {"govern_policyDecision": {"allow": "yes"}}}},
        "parent.run.runId": {**good, "run": {**good["run"], "facets": {"parent": {"run": {"runId": 7}}}}},
    }
    for reason, event in bad_events.items():
        response = client.post("/api/v1/lineage", json=event, headers=producer)
        assert response.status_code == 422 and reason in response.json()["detail"], (reason, response.text)
    not_json = client.post("/api/v1/lineage", content=b"{not json", headers={**producer, "Content-Type": "application/json"})
    assert not_json.status_code == 422
    assert client.post("/api/v1/lineage", json=[good], headers=producer).status_code == 422
    assert client.post("/api/v1/lineage", json=good, headers=producer).status_code == 201
    moved = client.post("/api/v1/lineage", json={**good, "job": {"namespace": "airflow-staging", "name": "x"}}, headers=producer)
    assert moved.status_code == 409 and "belongs to job airflow-prod:etl.curate" in moved.json()["detail"]


def test_a_bulk_load_names_the_bad_event(database):
    _, events = pipeline()
    with session_scope(database) as session, pytest.raises(RecordError, match="^event 2: run.runId must be a UUID"):
        write.ingest_many(session, [events[0], events[1], {**events[2], "run": {"runId": "x"}}], batch_size=2)
    with session_scope(database) as session:
        assert len(list(query.events(session))) == 2  # the first batch stayed


def test_only_producers_and_admins_post_events(client):
    event = run_event("START", str(uuid.uuid4()), "airflow-prod", "etl.curate", "2026-11-01T00:00:00Z")
    assert client.post("/api/v1/lineage", json=event).status_code == 401
    assert client.get("/api/v1/lineage", params={"nodeId": node_id("dataset", CLEAN)}).status_code == 401
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    refused = client.post("/api/v1/lineage", json=event, headers=submitter)
    assert refused.status_code == 403 and "lineage.write" in refused.json()["detail"]
    assert client.post("/api/v1/lineage", json=event, headers=auth(token_for(client, "admin", "platform"))).status_code == 201
    producer = auth(token_for(client, "producer", "platform"))
    assert client.post("/api/v1/lineage", json=event, headers=producer).json() == {"stored": False}
    assert client.get("/api/v1/lineage/events", headers=producer).status_code == 403


def test_graph_shape_and_depth(client, loaded):
    compliance = auth(token_for(client, "compliance", "audit"))

    def graph(node: str, depth: int):
        response = client.get("/api/v1/lineage", params={"nodeId": node, "depth": depth}, headers=compliance)
        assert response.status_code == 200, response.text
        return response.json()

    around_clean = graph(node_id("dataset", CLEAN), 1)
    assert ids(around_clean) == {node_id("dataset", CLEAN), "job:airflow-prod:etl.curate", "job:govern.materials-rnd:vqe-h2",
                                 "job:govern.quantum-finance:qaoa"}
    clean = around_clean["graph"][0]
    assert clean["type"] == "DATASET" and clean["data"]["id"] == {"namespace": CLEAN[0], "name": CLEAN[1]}
    assert clean["inEdges"] == [{"origin": "job:airflow-prod:etl.curate", "destination": node_id("dataset", CLEAN)}]
    assert {e["destination"] for e in clean["outEdges"]} == {"job:govern.materials-rnd:vqe-h2", "job:govern.quantum-finance:qaoa"}
    vqe = next(node for node in around_clean["graph"] if node["id"] == "job:govern.materials-rnd:vqe-h2")
    assert vqe["type"] == "JOB" and vqe["outEdges"] == []  # RESULTS is two hops away
    assert vqe["data"]["latestRun"]["id"] == loaded["vqe"] and vqe["data"]["team"] == "materials-rnd"

    everything = graph(node_id("dataset", RESULTS), 5)
    assert ids(everything) == ids(around_clean) | {node_id("dataset", RESULTS), node_id("dataset", RAW), "job:dbt://analytics:models.measurements"}
    assert ids(graph(node_id("dataset", RESULTS), 2)) == {node_id("dataset", RESULTS), "job:govern.materials-rnd:vqe-h2", node_id("dataset", CLEAN)}
    assert ids(graph("job:dbt://analytics:models.measurements", 0)) == {"job:dbt://analytics:models.measurements"}
    edges = {(e["origin"], e["destination"]) for node in everything["graph"] for e in node["inEdges"] + node["outEdges"]}
    assert all(origin in ids(everything) and destination in ids(everything) for origin, destination in edges)

    assert client.get("/api/v1/lineage", params={"nodeId": "dataset:s3://lake:nothing"}, headers=compliance).status_code == 404
    assert client.get("/api/v1/lineage", params={"nodeId": "table:x:y"}, headers=compliance).status_code == 422
    assert client.get("/api/v1/lineage", params={"nodeId": node_id("dataset", CLEAN), "depth": 21}, headers=compliance).status_code == 422


def test_the_graph_follows_one_direction_and_stops_at_a_node_cap(client, loaded):
    vqe, qaoa, airflow, dbt = ("job:govern.materials-rnd:vqe-h2", "job:govern.quantum-finance:qaoa", "job:airflow-prod:etl.curate",
                               "job:dbt://analytics:models.measurements")
    with session_scope(client.app.state.db) as session:
        upstream = query.graph(session, node_id("dataset", RESULTS), 5, None, direction="upstream")
        assert ids(upstream) == {node_id("dataset", RESULTS), vqe, node_id("dataset", CLEAN), airflow, node_id("dataset", RAW), dbt}
        downstream = query.graph(session, node_id("dataset", RAW), 5, None, direction="downstream")
        assert ids(downstream) == {node_id("dataset", RAW), airflow, node_id("dataset", CLEAN), vqe, qaoa, node_id("dataset", RESULTS)}
        assert "truncated" not in downstream
        capped = query.graph(session, node_id("dataset", CLEAN), 5, None, max_nodes=3)
        assert capped["truncated"] is True and len(capped["graph"]) == 3
        links = [(e["origin"], e["destination"]) for node in capped["graph"] for e in node["inEdges"] + node["outEdges"]]
        assert links and all(origin in ids(capped) and destination in ids(capped) for origin, destination in links)
        assert query.graph(session, node_id("dataset", CLEAN), 5, None, max_nodes=7)["truncated"] is False
        with pytest.raises(RecordError, match="direction must be one of"):
            query.graph(session, node_id("dataset", CLEAN), 1, None, direction="sideways")


def test_submitters_do_not_see_other_teams_jobs(client, loaded):
    finance = auth(token_for(client, "submitter", "quantum-finance"))
    graph = client.get("/api/v1/lineage", params={"nodeId": node_id("dataset", CLEAN), "depth": 4}, headers=finance).json()
    assert ids(graph) == {node_id("dataset", CLEAN), "job:airflow-prod:etl.curate", "job:govern.quantum-finance:qaoa",
                          node_id("dataset", RAW), "job:dbt://analytics:models.measurements"}
    assert "materials-rnd" not in json.dumps(graph)
    hidden = client.get("/api/v1/lineage", params={"nodeId": "job:govern.materials-rnd:vqe-h2"}, headers=finance)
    assert hidden.status_code == 404
    assert client.get(f"/api/v1/lineage/runs/{loaded['vqe']}/upstream", headers=finance).status_code == 404

    readers = client.get("/api/v1/lineage/datasets/s3%3A%2F%2Flake/curated%2Fmeasurements/runs", headers=finance).json()
    assert [run["runId"] for run in readers["runs"]] == [loaded["finance"]]
    procurement = auth(token_for(client, "procurement", "materials-rnd"))
    readers = client.get("/api/v1/lineage/datasets/s3%3A%2F%2Flake/curated%2Fmeasurements/runs", headers=procurement).json()
    assert [run["runId"] for run in readers["runs"]] == [loaded["vqe"]]


def test_dataset_runs_carry_their_decisions(client, loaded):
    compliance = auth(token_for(client, "compliance", "audit"))
    response = client.get("/api/v1/lineage/datasets/s3%3A%2F%2Flake/curated%2Fmeasurements/runs", headers=compliance)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["namespace"], body["name"]) == CLEAN
    finance, vqe = body["runs"]  # most recent first
    assert (finance["runId"], finance["state"], finance["decisionId"], finance["allow"]) == (loaded["finance"], "FAIL", "dec-2", False)
    assert (vqe["runId"], vqe["state"], vqe["decisionId"], vqe["allow"]) == (loaded["vqe"], "COMPLETE", "dec-1", True)
    assert vqe["job"] == {"namespace": "govern.materials-rnd", "name": "vqe-h2"} and vqe["endedAt"] == "2026-11-01T03:00:00+00:00"
    assert vqe["parentRunId"] == loaded["submission"]  # in canonical (lower-case) form
    raw = client.get("/api/v1/lineage/datasets/postgres%3A%2F%2Fwarehouse%3A5432/public.measurements/runs", headers=compliance).json()
    assert {run["job"]["name"] for run in raw["runs"]} == {"etl.curate"}
    assert client.get("/api/v1/lineage/datasets/s3%3A%2F%2Flake/nothing/runs", headers=compliance).status_code == 404
    assert client.get("/api/v1/lineage/datasets/s3://lake/curated/measurements/runs", headers=compliance).status_code == 404


def test_upstream_crosses_other_producers_jobs(client, loaded):
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    response = client.get(f"/api/v1/lineage/runs/{loaded['vqe']}/upstream", headers=submitter)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run"]["inputs"] == [{"namespace": CLEAN[0], "name": CLEAN[1], "producedBy": loaded["airflow"]}]  # not the later run
    assert body["run"]["outputs"] == [{"namespace": RESULTS[0], "name": RESULTS[1]}]
    airflow, dbt = body["upstream"]
    assert (airflow["runId"], airflow["depth"], airflow["job"]["namespace"]) == (loaded["airflow"], 1, "airflow-prod")
    assert airflow["inputs"] == [{"namespace": RAW[0], "name": RAW[1], "producedBy": loaded["dbt"]}]
    assert (dbt["runId"], dbt["depth"], dbt["inputs"]) == (loaded["dbt"], 2, [])
    shallow = client.get(f"/api/v1/lineage/runs/{loaded['vqe']}/upstream", params={"depth": 1}, headers=submitter).json()
    assert [run["runId"] for run in shallow["upstream"]] == [loaded["airflow"]]
    assert client.get(f"/api/v1/lineage/runs/{uuid.uuid4()}/upstream", headers=submitter).status_code == 404
    assert client.get("/api/v1/lineage/runs/not-a-run/upstream", headers=submitter).status_code == 422


def test_export_streams_json_lines(client, loaded):
    _, events = pipeline()
    compliance = auth(token_for(client, "compliance", "audit"))
    export = client.get("/api/v1/lineage/events", headers=compliance)
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [(e["eventType"], e["job"]["name"]) for e in lines] == [(e["eventType"], e["job"]["name"]) for e in events]
    last_id = int(export.headers["X-Lineage-Last-Id"])
    assert last_id >= len(events)
    assert client.get("/api/v1/lineage/events", params={"since": last_id}, headers=compliance).text == ""
    assert len(client.get("/api/v1/lineage/events", params={"since": last_id - 2}, headers=compliance).text.splitlines()) == 2

    submitter = client.get("/api/v1/lineage/events", headers=auth(token_for(client, "submitter", "materials-rnd"))).text
    namespaces = {json.loads(line)["job"]["namespace"] for line in submitter.splitlines()}
    assert namespaces == {"dbt://analytics", "airflow-prod", "govern.materials-rnd"}
    assert client.get("/api/v1/lineage/events", params={"since": -1}, headers=compliance).status_code == 422


def test_events_pages_in_id_order(database):
    _, events = pipeline()
    with session_scope(database) as session:
        write.ingest_many(session, events)
    with session_scope(database) as session:
        everything = list(query.events(session))
        assert [json.loads(payload)["run"]["runId"] for payload in everything] == [e["run"]["runId"] for e in events]
        assert list(query.events(session, since_id=2, limit=3)) == everything[2:5]
        assert list(query.events(session, until_id=1)) == everything[:1]
        assert len(list(query.events(session, visible_teams={"nobody"}))) == 5  # dbt and Airflow events have no team
