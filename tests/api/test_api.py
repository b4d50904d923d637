"""The service over its in-process ASGI client, on SQLite and on PostgreSQL: auth, authz, /v1/check, faults."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.db.database import session_scope
from govern.db.public import TokenCreate
from govern.manifest.documents import load_documents
from govern.records.tokens import create_token, revoke_token
from govern.settings import Settings
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture
def client(database_url):
    app = create_app(Settings(database_url=database_url, migrate_on_start=True, max_request_bytes=200_000))
    with TestClient(app) as client:
        yield client


def token_for(client, role: str, team: str) -> str:
    with session_scope(client.app.state.db) as session:
        _, secret = create_token(session, TokenCreate(role=role, team=team, name="test"))
    return secret


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def example(name: str) -> tuple[dict, str]:
    path = next(EXAMPLES.rglob(f"{name}.yaml"))
    (document,) = load_documents(path, 1_000_000)
    circuit = (path.parent / document.data["spec"]["circuit"]["path"]).read_text()
    return document.data, circuit


def test_health_and_readiness_need_no_token(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["bundle"].startswith("sha256:")


def test_check_needs_a_valid_token(client):
    manifest, circuit = example("bell-local")
    assert client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}).status_code == 401
    assert client.post("/v1/check", json={"manifest": manifest}, headers=auth("gov_wrong")).status_code == 401
    secret = token_for(client, "submitter", "platform-qa")
    with session_scope(client.app.state.db) as session:
        from govern.records.tokens import authenticate

        revoke_token(session, authenticate(session, secret).id)
    assert client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(secret)).status_code == 401


def test_check_decides_allowed_and_denied_submissions(client):
    secret = token_for(client, "submitter", "platform-qa")
    manifest, circuit = example("bell-local")
    allowed = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(secret))
    assert allowed.status_code == 200
    assert allowed.json()["outcome"] == "allowed"
    assert allowed.json()["decision"]["input_hash"].startswith("sha256:")
    manifest, circuit = example("unknown-backend")
    denied = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(secret))
    assert denied.status_code == 200
    assert [f["rule"] for f in denied.json()["decision"]["deny"]] == ["SEC-008"]


def test_submitters_are_confined_to_their_team(client):
    manifest, circuit = example("bell-local")
    other = token_for(client, "submitter", "quantum-finance")
    response = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(other))
    assert response.status_code == 403
    assert "own team" in response.json()["detail"]
    compliance = token_for(client, "compliance", "audit")
    assert client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(compliance)).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"manifest": {"apiVersion": "govern/v1", "kind": "Experiment"}}, "metadata"),
        ({"manifest": "not an object"}, "manifest"),
        ({"manifest": {}, "unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_submissions_are_422_with_fields(client, body, field):
    secret = token_for(client, "admin", "ops")
    response = client.post("/v1/check", json=body, headers=auth(secret))
    assert response.status_code == 422
    assert field in response.text


def test_unknown_manifest_fields_and_broken_qasm_are_422(client):
    secret = token_for(client, "submitter", "platform-qa")
    manifest, circuit = example("bell-local")
    typo = dict(manifest, spec=dict(manifest["spec"], shotz=3))
    response = client.post("/v1/check", json={"manifest": typo, "circuit": circuit}, headers=auth(secret))
    assert response.status_code == 422 and response.json()["problems"][0]["field"] == "spec.shotz"
    broken = client.post("/v1/check", json={"manifest": manifest, "circuit": "OPENQASM 3.0;\nqubit q;\nfoo q;\n"}, headers=auth(secret))
    assert broken.status_code == 422 and broken.json()["problems"][0]["line"] == 3
    missing = client.post("/v1/check", json={"manifest": manifest}, headers=auth(secret))
    assert missing.status_code == 422 and missing.json()["problems"][0]["field"] == "circuit"


def test_malformed_json_and_oversized_bodies_are_4xx(client):
    secret = token_for(client, "submitter", "platform-qa")
    malformed = client.post("/v1/check", content=b"{not json", headers={**auth(secret), "Content-Type": "application/json"})
    assert malformed.status_code == 422
    huge = client.post("/v1/check", content=b"x" * 300_000, headers={**auth(secret), "Content-Type": "application/json"})
    assert huge.status_code == 413

    def chunks():
        for _ in range(30):
            yield b"x" * 10_000

    streamed = client.post("/v1/check", content=chunks(), headers={**auth(secret), "Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_database_outage_is_503(tmp_path):
    app = create_app(Settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere"))
    with TestClient(app) as client:
        response = client.post("/v1/check", json={"manifest": {}}, headers=auth("gov_x"))
        assert response.status_code == 503
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200


def test_govern_serve_answers_over_loopback(database_url, tmp_path):
    """The real server process (uvicorn) on a loopback port, driven over real HTTP."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GOVERN_DATABASE_URL": database_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "govern", "serve", "--port", str(port), "--migrate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"server did not become ready: {server.stderr.read1().decode() if server.poll() is not None else ''}")
        created = subprocess.run(
            [sys.executable, "-m", "govern", "token", "create", "--role", "submitter", "--team", "platform-qa"],
            env=env, capture_output=True, text=True, check=True,
        )
        manifest, circuit = example("bell-local")
        response = httpx.post(f"{base}/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(created.stdout.strip()), timeout=30)
        assert response.status_code == 200 and response.json()["outcome"] == "allowed"
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "govern"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_checks_are_logged_and_the_log_verifies(client, cli, database_url, monkeypatch):
    secret = token_for(client, "submitter", "platform-qa")
    for name in ("bell-local", "unknown-backend"):
        manifest, circuit = example(name)
        assert client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(secret)).status_code == 200
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    verified = cli("audit", "verify")
    assert verified.exit_code == 0 and "2 records" in verified.output
    with client.app.state.db.begin() as connection:
        connection.exec_driver_sql("UPDATE decision_log SET outcome = 'allowed' WHERE seq = 2")
    tampered = cli("audit", "verify")
    assert tampered.exit_code == 1 and "record 2" in tampered.output


def test_audit_export_streams_filtered_jsonl_and_csv(client):
    import csv
    import io
    import json

    from govern.audit.record_format import record_text, row_hash

    secret = token_for(client, "submitter", "platform-qa")
    for name in ("bell-local", "unknown-backend", "bell-local"):
        manifest, circuit = example(name)
        client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(secret))
    assert client.get("/v1/audit/decisions", headers=auth(secret)).status_code == 403
    auditor = auth(token_for(client, "compliance", "audit"))
    lines = client.get("/v1/audit/decisions", headers=auditor).text.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3]
    prev = "0" * 64
    for r in records:  # an export verifies without the database
        assert r["prev_hash"] == prev and row_hash({**r, "record": record_text(r["record"], r["format"])}) == r["hash"]
        assert r["recorded_at"].endswith("+00:00") and r["actor_name"] == "test" and r["format"] == 3
        prev = r["hash"]
    denied = client.get("/v1/audit/decisions", params={"outcome": "denied"}, headers=auditor).text.splitlines()
    assert [json.loads(line)["seq"] for line in denied] == [2]
    by_rule = client.get("/v1/audit/decisions", params={"rule": "SEC-008", "format": "csv"}, headers=auditor).text
    rows = list(csv.DictReader(io.StringIO(by_rule)))
    assert [(r["seq"], r["rules"], r["team"], r["actor_name"]) for r in rows] == [("2", "SEC-008", "platform-qa", "test")]
    assert rows[0]["recorded_at"].endswith("+00:00")
    from datetime import datetime, timedelta, timezone

    east = timezone(timedelta(hours=2))  # a filter's offset counts, on SQLite too
    hour_ago, in_an_hour = (datetime.now(east) + timedelta(hours=h) for h in (-1, 1))
    assert len(client.get("/v1/audit/decisions", params={"since": hour_ago.isoformat()}, headers=auditor).text.splitlines()) == 3
    assert client.get("/v1/audit/decisions", params={"until": hour_ago.isoformat()}, headers=auditor).text == ""
    assert client.get("/v1/audit/decisions", params={"since": in_an_hour.isoformat()}, headers=auditor).text == ""
    assert client.get("/v1/audit/decisions", params={"format": "xml"}, headers=auditor).status_code == 422


def test_metrics_count_decisions_rules_and_latency(client):
    secret = token_for(client, "submitter", "platform-qa")
    for name in ("bell-local", "unknown-backend"):
        manifest, circuit = example(name)
        client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(secret))
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=auth(secret)).text
    assert 'govern_decisions_total{kind="check",outcome="allowed"} 1.0' in text
    assert 'govern_decisions_total{kind="check",outcome="denied"} 1.0' in text
    assert 'govern_rule_findings_total{effect="deny",rule="SEC-008"} 1.0' in text
    assert "govern_decision_seconds_count 2.0" in text
    assert 'govern_http_request_seconds_count{method="POST",route="/v1/check",status="200"} 2.0' in text


def test_policy_reload_swaps_bundles_and_refuses_broken_ones(database_url, tmp_path):
    import shutil

    from tests.conftest import ROOT

    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "policies", bundle)
    app = create_app(Settings(database_url=database_url, migrate_on_start=True, bundle=bundle))
    with TestClient(app) as client:
        admin = auth(token_for(client, "admin", "ops"))
        before = client.get("/v1/policy", headers=admin).json()
        assert before["revision"] == "2026.12.0" and "DC-001" in before["rules"]
        assert client.post("/v1/policy/reload", headers=auth(token_for(client, "submitter", "t"))).status_code == 403

        manifest = bundle / ".manifest"
        manifest.write_text(manifest.read_text().replace("2026.12.0", "2026.12.1"))
        after = client.post("/v1/policy/reload", headers=admin).json()
        assert after["revision"] == "2026.12.1" and after["bundle_revision"] != before["bundle_revision"]

        lib = bundle / "govern" / "lib.rego"
        lib.write_text(lib.read_text() + "\nbroken(x) := crypto.sha256(x)\n")
        refused = client.post("/v1/policy/reload", headers=admin)
        assert refused.status_code == 422 and "crypto.sha256" in refused.json()["detail"]
        assert client.get("/v1/policy", headers=admin).json()["bundle_revision"] == after["bundle_revision"]
        manifest_json, circuit = example("bell-local")
        checked = client.post("/v1/check", json={"manifest": manifest_json, "circuit": circuit}, headers=auth(token_for(client, "submitter", "platform-qa")))
        assert checked.json()["decision"]["bundle_revision"] == after["bundle_revision"]

        compliance = auth(token_for(client, "compliance", "audit"))
        assert client.get("/v1/policy/revisions", headers=auth(token_for(client, "submitter", "t"))).status_code == 403
        deadline = time.monotonic() + 30  # the revision a process starts with is stored by its follower thread
        while len(kept := client.get("/v1/policy/revisions", headers=compliance).json()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [(k["revision"], k["active"]) for k in kept] == [(after["bundle_revision"], True), (before["bundle_revision"], False)]
        assert kept[0]["manifest_revision"] == "2026.12.1"
