"""Marquez's read API over govern's lineage store, read by marquez-python (Marquez's own client) from a
live `govern serve` on PostgreSQL: every read method of the client, with a token, over events govern and
other producers posted; who sees what; paging with totalCount; and hostile paths and paging refused."""

from __future__ import annotations

import copy
import uuid

import httpx
import pytest
from marquez_client import MarquezClient
from marquez_client.errors import APIError

from tests.lineage.test_lineage_e2e import get, submit, tokens
from tests.lineage.test_lineage_store import CLEAN, RAW, RESULTS, pipeline
from tests.live_service import running_service, wait_for

pytestmark = pytest.mark.slow

SCHEMA = {"fields": [{"name": "sample_id", "type": "BIGINT", "description": "the sample"}, {"name": "energy", "type": "DOUBLE"}]}


def with_schema(events: list[dict]) -> list[dict]:
    """The pipeline, Airflow's first run giving CLEAN its schema and a documentation facet."""
    events = copy.deepcopy(events)
    for event in events[2:4]:
        event["outputs"][0]["facets"] = {"schema": SCHEMA, "documentation": {"description": "curated measurements"}, "columnLineage": {
            "fields": {"energy": {"inputFields": [{"namespace": RAW[0], "name": RAW[1], "field": "e_hartree",
                                                   "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION", "description": "x 27.2"}]}]}}}}
    return events


def post_all(url: str, producer: str, service: str, events: list[dict]) -> None:
    for event in events:
        sender = service if event["job"]["namespace"].startswith("govern.") else producer
        response = httpx.post(f"{url}/api/v1/lineage", json=event, headers={"Authorization": f"Bearer {sender}"}, timeout=30)
        assert response.status_code == 201, response.text


def client(url: str, token: str) -> MarquezClient:
    """marquez-python sends its api_key as `Authorization: Bearer`; it keeps the header process-wide, so
    each role gets a client made just before it is used."""
    return MarquezClient(url, api_key=token)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_marquez_python_reads_govern(cli, monkeypatch, database_url):
    producer, service, auditor, rnd, finance, qa = tokens(
        cli, monkeypatch, database_url, ("producer", "platform"), ("service", "lineage"), ("compliance", "audit"),
        ("submitter", "materials-rnd"), ("submitter", "quantum-finance"), ("submitter", "platform-qa"),
    )
    runs, events = pipeline()
    with running_service(database_url) as url:
        post_all(url, producer, service, with_schema(events))
        allowed = submit(url, qa, "bell-local")  # govern emits its own events into its store
        run_id = allowed["submission"]["run_id"]
        wait_for(lambda: get(url, auditor, f"/api/v1/jobs/runs/{run_id}").status_code == 200, what="govern's own run")

        marquez = client(url, auditor)
        names = {namespace["name"] for namespace in marquez.list_namespaces()["namespaces"]}
        assert {"airflow-prod", "dbt://analytics", "govern.materials-rnd", "govern.quantum-finance", "govern.platform-qa",
                CLEAN[0], RAW[0], RESULTS[0]} <= names
        airflow = marquez.get_namespace("airflow-prod")
        assert airflow["name"] == "airflow-prod" and airflow["createdAt"].startswith("2026-11-01T01:00")
        assert marquez.get_namespace("govern.materials-rnd")["team"] == "materials-rnd"

        jobs = marquez.list_jobs("airflow-prod")
        assert jobs["totalCount"] == 1 and jobs["jobs"][0]["id"] == {"namespace": "airflow-prod", "name": "etl.curate"}
        job = marquez.get_job("airflow-prod", "etl.curate")
        assert job["type"] == "BATCH" and job["inputs"] == [{"namespace": RAW[0], "name": RAW[1]}]
        assert job["outputs"] == [{"namespace": CLEAN[0], "name": CLEAN[1]}]
        assert job["latestRun"]["id"] == runs["airflow_later"] and job["latestRun"]["state"] == "RUNNING"
        job_runs = marquez.list_job_runs("airflow-prod", "etl.curate")
        assert job_runs["totalCount"] == 2 and [run["id"] for run in job_runs["runs"]] == [runs["airflow_later"], runs["airflow"]]
        first = job_runs["runs"][1]
        assert (first["state"], first["durationMs"]) == ("COMPLETED", 30 * 60 * 1000)
        assert first["outputDatasetVersions"][0]["datasetVersionId"]["name"] == CLEAN[1]

        vqe = marquez.get_job_run(runs["vqe"])
        assert (vqe["state"], vqe["decisionId"], vqe["allow"], vqe["team"]) == ("COMPLETED", "dec-1", True, "materials-rnd")
        assert marquez.get_job_run(runs["finance"])["state"] == "FAILED"
        own = marquez.get_job_run(run_id)
        assert own["team"] == "platform-qa" and own["decisionId"] == allowed["decision"]["decision_id"]
        assert own["facets"]["govern_policyDecision"]["allow"] is True
        assert own["job"]["namespace"] == "govern.platform-qa"
        assert marquez.get_job(own["job"]["namespace"], own["job"]["name"])["latestRun"]["id"] == run_id

        datasets = marquez.list_datasets(CLEAN[0])
        assert datasets["totalCount"] == 1
        dataset = marquez.get_dataset(*CLEAN)
        assert dataset["fields"] == [{"name": "sample_id", "type": "BIGINT", "tags": [], "description": "the sample"},
                                     {"name": "energy", "type": "DOUBLE", "tags": [], "description": None}]
        assert dataset["type"] == "DB_TABLE" and dataset["description"] == "curated measurements"
        versions = marquez.list_dataset_versions(*CLEAN)
        assert versions["totalCount"] == 2 and versions["versions"][0]["createdByRun"]["id"] == runs["airflow_later"]
        assert dataset["currentVersion"] == versions["versions"][0]["version"]
        older = marquez.get_dataset_version(*CLEAN, versions["versions"][1]["version"])
        assert older["createdByRun"]["id"] == runs["airflow"] and older["fields"][0]["name"] == "sample_id"

        events_page = marquez.list_events(limit=3)
        assert events_page["totalCount"] >= len(events) and len(events_page["events"]) == 3
        airflow_events = marquez.list_events(namespace="airflow-prod")
        assert airflow_events["totalCount"] == 3 and {event["job"]["name"] for event in airflow_events["events"]} == {"etl.curate"}
        sources = marquez.list_sources()
        assert {source["name"] for source in sources["sources"]} >= {CLEAN[0], RAW[0], RESULTS[0]}
        assert marquez.get_source(CLEAN[0]) | {"createdAt": None} == {
            "type": "S3", "name": CLEAN[0], "createdAt": None, "updatedAt": "2026-11-02T01:00:00+00:00", "connectionUrl": CLEAN[0], "description": None}
        assert marquez.list_tags() == {"tags": [], "totalCount": 0}
        lineage = get(url, auditor, "/api/v1/events/lineage", sortDirection="asc", limit=2).json()
        assert [event["eventTime"] for event in lineage["events"]] == ["2026-11-01T00:00:00Z", "2026-11-01T00:10:00Z"]

        found = get(url, auditor, "/api/v1/search", q="ETL.").json()
        assert found["results"] == [{"type": "JOB", "name": "etl.curate", "updatedAt": "2026-11-02T01:00:00+00:00",
                                     "namespace": "airflow-prod", "nodeId": "job:airflow-prod:etl.curate"}]
        assert get(url, auditor, "/api/v1/search", q="measurements", filter="DATASET").json()["totalCount"] == 2

        graph = get(url, auditor, "/api/v1/lineage", nodeId=f"dataset:{CLEAN[0]}:{CLEAN[1]}", depth=1).json()["graph"]
        clean = next(node for node in graph if node["type"] == "DATASET")
        assert clean["data"]["fields"][0]["name"] == "sample_id" and clean["data"]["type"] == "DB_TABLE"
        etl = next(node for node in graph if node["id"] == "job:airflow-prod:etl.curate")
        assert etl["data"]["type"] == "BATCH" and etl["data"]["outputs"] == [{"namespace": CLEAN[0], "name": CLEAN[1]}]
        assert etl["data"]["latestRun"]["state"] == "RUNNING"

        columns = marquez.get_column_lineage_by_dataset_field(*CLEAN, "energy")["graph"]
        energy, source = columns
        assert (energy["id"], energy["type"], energy["data"]["fieldType"]) == (f"datasetField:{CLEAN[0]}:{CLEAN[1]}:energy", "DATASET_FIELD", "DOUBLE")
        assert energy["data"]["inputFields"][0] | {"datasetVersion": None} == {
            "namespace": RAW[0], "dataset": RAW[1], "datasetVersion": None, "field": "e_hartree",
            "transformationDescription": "x 27.2", "transformationType": "DIRECT"}
        assert energy["inEdges"] == source["outEdges"] == [{"origin": source["id"], "destination": energy["id"]}]
        assert {node["id"] for node in marquez.get_column_lineage_by_dataset(*CLEAN)["graph"]} >= {energy["id"], source["id"]}
        assert len(marquez.get_column_lineage_by_job("airflow-prod", "etl.curate")["graph"]) == 3  # sample_id, energy, e_hartree

        with pytest.raises(APIError):
            marquez.get_job("airflow-prod", "nothing")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_roles_paging_and_hostile_input(cli, monkeypatch, database_url):
    producer, service, auditor, finance = tokens(
        cli, monkeypatch, database_url, ("producer", "platform"), ("service", "lineage"), ("compliance", "audit"),
        ("submitter", "quantum-finance"),
    )
    runs, events = pipeline()
    with running_service(database_url) as url:
        post_all(url, producer, service, events)
        names = {namespace["name"] for namespace in client(url, finance).list_namespaces()["namespaces"]}
        assert "govern.quantum-finance" in names and "govern.materials-rnd" not in names
        hidden = get(url, finance, "/api/v1/namespaces/govern.materials-rnd")
        assert hidden.status_code == 404 and hidden.json()["code"] == 404 and "not found" in hidden.json()["message"]
        assert get(url, finance, f"/api/v1/jobs/runs/{runs['vqe']}").status_code == 404
        assert get(url, finance, f"/api/v1/jobs/runs/{runs['finance']}").status_code == 200
        assert get(url, finance, "/api/v1/search", q="vqe", filter="JOB").json()["totalCount"] == 0
        assert get(url, auditor, "/api/v1/search", q="vqe", filter="JOB").json()["totalCount"] == 1
        visible = {event["job"]["namespace"] for event in get(url, finance, "/api/v1/events/lineage").json()["events"]}
        assert "govern.materials-rnd" not in visible
        results = get(url, finance, f"/api/v1/namespaces/{RESULTS[0].replace('/', '%2F')}/datasets/{RESULTS[1].replace('/', '%2F')}/versions")
        assert results.status_code == 200 and results.json()["versions"][0]["createdByRun"] is None  # materials-rnd's run

        everything = get(url, auditor, "/api/v1/namespaces").json()
        assert everything["totalCount"] == len(everything["namespaces"]) == 7
        first, rest = (get(url, auditor, "/api/v1/namespaces", limit=2, offset=offset).json() for offset in (0, 2))
        assert first["totalCount"] == rest["totalCount"] == 7 and len(first["namespaces"]) == 2 and len(rest["namespaces"]) == 2
        assert [n["name"] for n in first["namespaces"] + rest["namespaces"]] == [n["name"] for n in everything["namespaces"]][:4]
        assert get(url, auditor, "/api/v1/namespaces/airflow-prod/jobs/etl.curate/runs", limit=1).json()["totalCount"] == 2

        for path, params in [
            ("/api/v1/namespaces", {"limit": -1}), ("/api/v1/namespaces", {"limit": 10**6}), ("/api/v1/namespaces", {"offset": "x"}),
            ("/api/v1/namespaces", {"offset": 2**63}), ("/api/v1/search", {"q": ""}), ("/api/v1/search", {"q": "x", "limit": 0}),
            ("/api/v1/search", {"q": "x", "before": "yesterday"}), ("/api/v1/events/lineage", {"sortDirection": "up"}),
            ("/api/v1/namespaces/" + "n" * 256, {}), ("/api/v1/namespaces/airflow-prod/jobs/" + "j" * 1001, {}),
        ]:
            response = get(url, auditor, path, **params)
            assert response.status_code in (400, 422), (path, params, response.status_code, response.text)
        for path in ["/api/v1/namespaces/nothing", "/api/v1/namespaces/airflow-prod/jobs/nothing/runs",
                     f"/api/v1/namespaces/{CLEAN[0].replace('/', '%2F')}/datasets/nothing", f"/api/v1/jobs/runs/{uuid.uuid4()}",
                     "/api/v1/jobs/runs/not-a-run", "/api/v1/namespaces/airflow-prod/elsewhere",
                     f"/api/v1/namespaces/{CLEAN[0].replace('/', '%2F')}/datasets/{CLEAN[1].replace('/', '%2F')}/versions/{uuid.uuid4()}"]:
            response = get(url, auditor, path)
            assert response.status_code == 404 and response.json()["code"] == 404, (path, response.text)
        assert httpx.get(f"{url}/api/v1/namespaces", timeout=10).status_code == 401
