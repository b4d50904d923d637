"""What the lineage endpoint takes in, on SQLite and PostgreSQL: static JobEvents and DatasetEvents beside
RunEvents, gzip bodies (bounded while they inflate) from the real openlineage-python client over loopback,
values no database could store refused with a 422, and manifests refused when their lineage could not be
stored."""

from __future__ import annotations

import gzip
import json
import shutil
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)

from govern.api import create_app
from govern.db.database import create_db_engine, session_scope, upgrade
from govern.lineage import limits
from govern.lineage.store import write
from govern.records.errors import RecordError
from govern.settings import Settings
from tests.api.test_api import EXAMPLES, auth, example, token_for
from tests.lineage.test_lineage_e2e import exported, tokens
from tests.lineage.test_lineage_store import CLEAN, RAW, run_event
from tests.lineage_schemas import validate
from tests.live_service import running_service, wait_for

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/"
NOW = "2026-12-01T10:00:00Z"


@pytest.fixture
def client(database_url):
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        yield client


def job_event(namespace="airflow-prod", name="etl.curate") -> dict:
    return {"eventTime": NOW, "producer": "https://airflow.apache.org", "schemaURL": SPEC + "JobEvent",
            "job": {"namespace": namespace, "name": name, "facets": {}},
            "inputs": [{"namespace": RAW[0], "name": RAW[1]}], "outputs": [{"namespace": CLEAN[0], "name": CLEAN[1]}]}


def dataset_event() -> dict:
    return {"eventTime": NOW, "producer": "https://dbt", "schemaURL": SPEC + "DatasetEvent",
            "dataset": {"namespace": RAW[0], "name": RAW[1], "facets": {}}}


@pytest.mark.slow
def test_static_events_are_stored_and_drawn(client):
    producer = auth(token_for(client, "producer", "platform"))
    for event in (job_event(), dataset_event()):
        assert client.post("/api/v1/lineage", json=event, headers=producer).status_code == 201
        assert client.post("/api/v1/lineage", json=event, headers=producer).json() == {"stored": False}
    compliance = auth(token_for(client, "compliance", "audit"))
    graph = client.get("/api/v1/lineage", params={"nodeId": f"dataset:{CLEAN[0]}:{CLEAN[1]}", "depth": 2}, headers=compliance).json()
    assert {node["id"] for node in graph["graph"]} == {f"dataset:{CLEAN[0]}:{CLEAN[1]}", "job:airflow-prod:etl.curate", f"dataset:{RAW[0]}:{RAW[1]}"}
    clean = client.get("/api/v1/lineage/datasets/s3%3A%2F%2Flake/curated%2Fmeasurements/runs", headers=compliance)
    assert clean.json()["runs"] == []  # a job's static lineage is no run that read the dataset
    exported_events = [json.loads(line) for line in client.get("/api/v1/lineage/events", headers=compliance).text.splitlines()]
    assert [set(event) & {"job", "dataset", "run"} for event in exported_events] == [{"job"}, {"dataset"}]

    wrong = {
        "eventType belongs to RunEvents": {**job_event(), "eventType": "COMPLETE"},
        "a DatasetEvent has a dataset and no job": {**dataset_event(), "job": {"namespace": "a", "name": "b"}},
        "needs `run` and `job`": {k: v for k, v in dataset_event().items() if k != "dataset"},
        "dataset.namespace is longer than 255 bytes": {**dataset_event(), "dataset": {"namespace": "é" * 200, "name": "x"}},
    }
    for reason, event in wrong.items():
        response = client.post("/api/v1/lineage", json=event, headers=producer)
        assert response.status_code == 422 and reason in response.json()["detail"], (reason, response.text)


def test_static_events_are_valid_openlineage():
    validate(job_event(), SPEC + "JobEvent")
    validate(dataset_event(), SPEC + "DatasetEvent")


@pytest.mark.slow
def test_values_no_database_stores_are_refused(client):
    producer = {**auth(token_for(client, "producer", "platform")), "Content-Type": "application/json"}
    good = run_event("START", str(uuid.uuid4()), "airflow-prod", "etl.curate", NOW)
    text = json.dumps(good)
    deep: dict = {}
    for _ in range(limits.MAX_NESTING + 5):
        deep = {"x": deep}
    refused = {  # plain JSON is held to these by the body middleware, gzip bodies by the endpoint
        "contains a NUL byte at /producer": json.dumps({**good, "producer": "https://a\u0000b"}),
        "lone surrogate": text.replace('"facets": {}', '"facets": {"note": "\\ud800"}'),
        "key contains a NUL byte": text.replace('"facets": {}', '"facets": {"a\\u0000": 1}'),
        "nested deeper than 64 levels": json.dumps({**good, "run": {**good["run"], "facets": deep}}),
        "NaN is not a number JSON allows": text.replace('"facets": {}', '"facets": {"n": NaN}'),
        "number too large to hold": text.replace('"facets": {}', '"facets": {"n": 1e400}'),
        "JSON is nested deeper than 64 levels": "[" * 100_000 + "]" * 100_000,
        "is outside 1900 to 2199": json.dumps({**good, "eventTime": "9999-12-31T23:59:59-01:00"}),
        "malformed JSON": b'{"eventTime": "\xff"}',
    }
    for reason, body in refused.items():
        for sent, headers in (("plain", producer), ("gzip", {**producer, "Content-Encoding": "gzip"})):
            content = body.encode() if isinstance(body, str) else body
            response = client.post("/api/v1/lineage", content=gzip.compress(content) if sent == "gzip" else content, headers=headers)
            assert response.status_code == 422 and reason in response.text, (reason, sent, response.text[:300])
    for moment in ("0001-01-01T00:00:00+01:00", "1850-06-01T00:00:00Z"):
        response = client.post("/api/v1/lineage", json={**good, "eventTime": moment}, headers=producer)
        assert response.status_code == 422 and "outside 1900 to 2199" in response.json()["detail"]
    compliance = auth(token_for(client, "compliance", "audit"))
    assert client.get("/api/v1/lineage/events", headers=compliance).text == ""


@pytest.mark.slow
def test_gzip_bodies_inflate_within_the_request_limit(client):
    producer = {**auth(token_for(client, "producer", "platform")), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    event = run_event("START", str(uuid.uuid4()), "airflow-prod", "etl.curate", NOW)
    assert client.post("/api/v1/lineage", content=gzip.compress(json.dumps(event).encode()), headers=producer).status_code == 201
    limit = client.app.state.settings.max_request_bytes
    bomb = gzip.compress(json.dumps({**event, "producer": "x" * (limit * 5)}).encode(), compresslevel=9)
    assert len(bomb) < limit // 50
    response = client.post("/api/v1/lineage", content=bomb, headers=producer)
    assert response.status_code == 413 and f"larger than {limit} bytes" in response.json()["detail"]
    assert client.post("/api/v1/lineage", content=gzip.compress(json.dumps(event).encode())[:-9], headers=producer).status_code == 400
    assert client.post("/api/v1/lineage", content=b"not gzip", headers=producer).status_code == 400
    nan = gzip.compress(json.dumps(event).replace('"facets": {}', '"facets": {"n": NaN}').encode())
    assert client.post("/api/v1/lineage", content=nan, headers=producer).status_code == 422
    brotli = client.post("/api/v1/lineage", content=b"{}", headers={**producer, "Content-Encoding": "br"})
    assert brotli.status_code == 415


@pytest.mark.slow
def test_the_openlineage_client_sends_gzip_to_a_live_service(cli, monkeypatch, database_url):
    producer, auditor = tokens(cli, monkeypatch, database_url, ("producer", "lineage"), ("compliance", "audit"))
    with running_service(database_url, env={"GOVERN_LINEAGE_DELIVERY": "false"}) as url:
        client = OpenLineageClient(config={"transport": {
            "type": "http", "url": url, "endpoint": "api/v1/lineage", "compression": "gzip", "timeout": 10,
            "auth": {"type": "api_key", "apiKey": producer}, "retry": {"total": 0},
        }})
        job = Job(namespace="airflow-prod", name="etl.curate")
        client.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=NOW, run=Run(runId=str(uuid.uuid4())), job=job,
                             inputs=[InputDataset(namespace=RAW[0], name=RAW[1])], producer="https://airflow.apache.org"))
        client.emit(JobEvent(eventTime=NOW, job=job, outputs=[OutputDataset(namespace=CLEAN[0], name=CLEAN[1])], producer="https://airflow.apache.org"))
        client.emit(DatasetEvent(eventTime=NOW, dataset=StaticDataset(namespace=RAW[0], name=RAW[1]), producer="https://dbt"))
        events = wait_for(lambda: len(exported(url, auditor)) == 3 and exported(url, auditor), what="the three events")
        refused = httpx.post(f"{url}/api/v1/lineage", content=gzip.compress(json.dumps(job_event("govern.platform-qa")).encode()),
                             headers={**auth(producer), "Content-Encoding": "gzip", "Content-Type": "application/json"})
        assert refused.status_code == 403
    assert [event["schemaURL"].rsplit("/", 1)[-1] for event in events] == ["RunEvent", "JobEvent", "DatasetEvent"]


@pytest.mark.slow
def test_a_manifest_whose_lineage_could_not_be_stored_is_refused(client, cli, tmp_path):
    manifest, circuit = example("bell-local")
    long_namespace = "é" * 200  # 200 characters, as the manifest allows, but 400 bytes of UTF-8
    manifest["spec"]["datasets"][0]["namespace"] = long_namespace
    response = client.post("/v1/submissions", json={"manifest": manifest, "circuit": circuit},
                           headers=auth(token_for(client, "submitter", "platform-qa")))
    assert response.status_code == 422 and "datasets" in response.text and "longer than 255 bytes" in response.text, response.text

    source = next(EXAMPLES.rglob("bell-local.yaml"))
    shutil.copytree(source.parent.parent / "circuits", tmp_path / "circuits")
    (tmp_path / "allowed").mkdir()
    (tmp_path / "allowed" / "bell-local.yaml").write_text(source.read_text().replace('"s3://qa-data"', json.dumps(long_namespace)))
    result = cli("check", tmp_path / "allowed" / "bell-local.yaml")
    assert result.exit_code == 2 and "spec.datasets[0].namespace: Value error, this value is longer than 255 bytes" in result.output and "longer than 255 bytes" in result.output, result.output


@pytest.mark.slow
def test_the_store_refuses_what_it_cannot_hold_from_any_source(database_url):
    """Events that never crossed HTTP (the transport, a bulk load) meet the same rules in the store itself."""
    engine = create_db_engine(database_url)
    upgrade(engine)
    good = run_event("START", str(uuid.uuid4()), "airflow-prod", "etl.curate", NOW)
    deep: dict = {}
    for _ in range(limits.MAX_NESTING + 1):
        deep = {"x": deep}
    refused = {
        "producer contains a NUL character": {**good, "producer": "https://a\x00b"},
        "run.facets.note contains a lone surrogate": {**good, "run": {**good["run"], "facets": {"note": "\ud800"}}},
        "nests deeper than 64 levels": {**good, "run": {**good["run"], "facets": deep}},
        "run.facets.n is not a finite number": {**good, "run": {**good["run"], "facets": {"n": float("inf")}}},
        "outside 1900 to 2199": {**good, "eventTime": "0001-01-01T00:00:00+01:00"},
    }
    try:
        for reason, event in refused.items():
            with session_scope(engine) as session, pytest.raises(RecordError, match=reason) as caught:
                write.ingest(session, event)
            assert caught.value.status == 422
        with session_scope(engine) as session:
            assert write.last_event_id(session) == 0
    finally:
        engine.dispose()
