"""Lineage end to end, between real `govern serve` processes over loopback HTTP, through the real
openlineage-python HTTP transport configured the standard way (an `openlineage.yml`): submissions become
runs in the lineage store, linked to their datasets and decisions, and a backend that is down loses nothing."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from govern.lineage.submission_events import job_namespace
from tests.api.test_api import example
from tests.lineage_schemas import validate_event
from tests.live_service import free_port, running_service, wait_for

pytestmark = pytest.mark.slow


def tokens(cli, monkeypatch, database_url: str, *roles: tuple[str, str]) -> list[str]:
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    assert cli("db", "upgrade").exit_code == 0
    return [cli("token", "create", "--role", role, "--team", team).stdout.strip().splitlines()[-1] for role, team in roles]


def lineage_config(tmp_path, backend: str, token: str):
    path = tmp_path / "openlineage.yml"
    path.write_text(
        "transport:\n  type: http\n"
        f"  url: {backend}\n  endpoint: api/v1/lineage\n  timeout: 2\n"
        f"  auth: {{type: api_key, apiKey: {token}}}\n  retry: {{total: 0}}\n"
    )
    return {"OPENLINEAGE_CONFIG": str(path), "GOVERN_LINEAGE_POLL_S": "0.2"}


def submit(url: str, token: str, name: str) -> dict:
    manifest, circuit = example(name)
    response = httpx.post(f"{url}/v1/submissions", json={"manifest": manifest, "circuit": circuit},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code in (201, 403), response.text
    return response.json()


def get(url: str, token: str, path: str, **params) -> httpx.Response:
    return httpx.get(f"{url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def exported(url: str, token: str) -> list[dict]:
    import json

    return [json.loads(line) for line in get(url, token, "/api/v1/lineage/events").text.splitlines() if line]


def test_submissions_reach_the_services_own_lineage_store(cli, monkeypatch, database_url, tmp_path):
    qa, rnd, auditor, service = tokens(
        cli, monkeypatch, database_url,
        ("submitter", "platform-qa"), ("submitter", "materials-rnd"), ("compliance", "audit"), ("service", "lineage"),
    )
    port = free_port()
    env = lineage_config(tmp_path, f"http://127.0.0.1:{port}", service)
    with running_service(database_url, port=port, env=env) as url:
        allowed = submit(url, qa, "bell-local")
        denied = submit(url, rnd, "pii-not-pseudonymized")
        assert allowed["submission"]["outcome"] == "allowed" and denied["submission"]["outcome"] == "denied"

        dataset = f"/api/v1/lineage/datasets/{quote('s3://qa-data', safe='')}/{quote('baselines/bell', safe='')}/runs"
        runs = wait_for(lambda: get(url, auditor, dataset).json().get("runs"), what="the allowed run in the store")
        (run,) = runs
        assert run["runId"] == allowed["submission"]["run_id"]
        assert run["decisionId"] == allowed["decision"]["decision_id"] and run["allow"] is True

        graph = get(url, auditor, "/api/v1/lineage", nodeId="dataset:s3://qa-data:baselines/bell", depth=2).json()["graph"]
        job = f"job:{job_namespace('platform-qa')}:{example('bell-local')[0]['metadata']['name']}"
        assert {node["id"] for node in graph} >= {"dataset:s3://qa-data:baselines/bell", job}
        job_node = next(node for node in graph if node["id"] == job)
        assert {"origin": "dataset:s3://qa-data:baselines/bell", "destination": job} in job_node["inEdges"]

        denied_dataset = f"/api/v1/lineage/datasets/{quote('s3://crm-data', safe='')}/{quote('customers/churn-features', safe='')}/runs"
        (aborted,) = wait_for(lambda: get(url, auditor, denied_dataset).json().get("runs"), what="the denied run")
        assert aborted["state"] == "ABORT" and aborted["allow"] is False
        assert aborted["decisionId"] == denied["decision"]["decision_id"]

        hidden = get(url, qa, denied_dataset).json()["runs"]
        assert hidden == []  # another team's experiment stays out of a submitter's sight

        events = wait_for(lambda: len(exported(url, auditor)) == 2 and exported(url, auditor), what="both events")
        assert sorted(e["eventType"] for e in events) == ["ABORT", "START"]
        for event in events:
            validate_event(event)
        assert get(url, auditor, "/v1/lineage/outbox").json()["pending"] == 0
        assert "govern_lineage_outbox_pending 0.0" in get(url, auditor, "/metrics").text

        monkeypatch.setenv("GOVERN_SERVER", url)
        monkeypatch.setenv("GOVERN_TOKEN", auditor)
        shown = cli("lineage", "show", "dataset:s3://qa-data:baselines/bell")
        assert shown.exit_code == 0 and f"  -> {job}" in shown.stdout
        export = cli("lineage", "export")
        assert export.exit_code == 0 and len(export.stdout.splitlines()) == 2
        monkeypatch.setenv("GOVERN_TOKEN", qa)
        assert cli("lineage", "status").exit_code == 2  # the delivery backlog is for compliance and admins


def test_a_lineage_backend_that_is_down_loses_no_event(cli, monkeypatch, database_url, tmp_path):
    backend_db = f"sqlite:///{tmp_path / 'marquez-standin.db'}"
    (service,) = tokens(cli, monkeypatch, backend_db, ("service", "lineage"))
    qa, auditor = tokens(cli, monkeypatch, database_url, ("submitter", "platform-qa"), ("compliance", "audit"))
    backend_port = free_port()
    env = lineage_config(tmp_path, f"http://127.0.0.1:{backend_port}", service)
    with running_service(database_url, env=env) as url:
        submitted = [submit(url, qa, "bell-local")["submission"]["run_id"] for _ in range(3)]
        status = wait_for(lambda: (s := get(url, auditor, "/v1/lineage/outbox").json())["failing"] and s, what="a failed delivery")
        assert status["pending"] == 3 and "ConnectionError" in status["lastError"]
        monkeypatch.setenv("GOVERN_SERVER", url)
        monkeypatch.setenv("GOVERN_TOKEN", auditor)
        shown = cli("lineage", "status")
        assert shown.exit_code == 0 and '"pending": 3' in shown.stdout

        with running_service(backend_db, port=backend_port, env={"GOVERN_LINEAGE_DELIVERY": "false"}) as backend:
            wait_for(lambda: get(url, auditor, "/v1/lineage/outbox").json()["pending"] == 0, timeout_s=120, what="the backlog to drain")
            (backend_auditor,) = tokens(cli, monkeypatch, backend_db, ("compliance", "audit"))
            events = exported(backend, backend_auditor)
    assert sorted(e["run"]["runId"] for e in events) == sorted(submitted)
    for event in events:
        validate_event(event)


@pytest.fixture(autouse=True)
def _no_ambient_openlineage(monkeypatch):
    """The servers get their OpenLineage configuration from each test, never from the developer's shell."""
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
