"""The CLI as a client of a real `govern serve` process over loopback: submit, check --server, sandbox, waiver,
audit export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import EXAMPLES
from tests.live_service import running_service

pytestmark = pytest.mark.slow


@pytest.fixture
def service(database_url, monkeypatch):
    with running_service(database_url) as url:
        monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
        monkeypatch.setenv("GOVERN_SERVER", url)
        yield url


def token(cli, role: str, team: str) -> str:
    return cli("token", "create", "--role", role, "--team", team).stdout.strip().splitlines()[-1]


def test_submit_and_procurement_through_the_cli(cli, service, monkeypatch):
    procurement, submitter = token(cli, "procurement", "procurement"), token(cli, "submitter", "materials-rnd")
    httpx.put(f"{service}/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers={"Authorization": f"Bearer {procurement}"})

    monkeypatch.setenv("GOVERN_TOKEN", submitter)
    start = datetime.now(UTC) - timedelta(days=1)
    requested = cli("sandbox", "request", "--id", "SBX-2026-014", "--team", "materials-rnd", "--vendor", "ibm",
                    "--device", "ibm_brisbane", "--start", start.isoformat(), "--end", (start + timedelta(weeks=8)).isoformat(),
                    "--budget", "100.00")
    assert requested.exit_code == 0 and json.loads(requested.stdout)["status"] == "requested"
    assert cli("sandbox", "approve", "SBX-2026-014").exit_code == 2  # submitters do not approve

    monkeypatch.setenv("GOVERN_TOKEN", procurement)
    assert json.loads(cli("sandbox", "approve", "SBX-2026-014").stdout)["status"] == "approved"

    monkeypatch.setenv("GOVERN_TOKEN", submitter)
    allowed = cli("submit", str(EXAMPLES / "allowed" / "vqe-h2-ibm.yaml"))
    assert allowed.exit_code == 0, allowed.output
    assert "ALLOWED" in allowed.stdout
    denied = cli("submit", str(EXAMPLES / "denied" / "eu-data-us-device.yaml"))
    assert denied.exit_code == 1 and "DC-004" in denied.stdout
    assert cli("submit", str(EXAMPLES / "context.yaml")).exit_code == 2
    other_team = cli("submit", str(EXAMPLES / "allowed" / "bell-local.yaml"))
    assert other_team.exit_code == 2 and "own team" in other_team.output
    listed = json.loads(cli("sandbox", "list", "--team", "materials-rnd").stdout)
    assert listed[0]["reserved"] == "4.80"
    assert json.loads(cli("sandbox", "list").stdout) == listed  # a submitter's own team's by default
    other = cli("sandbox", "list", "--team", "quantum-finance")
    assert other.exit_code == 2 and "not for team 'quantum-finance'" in other.output


def test_check_against_the_service_uses_its_live_context(cli, service, monkeypatch, tmp_path):
    monkeypatch.setenv("GOVERN_TOKEN", token(cli, "compliance", "audit"))
    result = cli("check", str(EXAMPLES / "allowed" / "vqe-h2-ibm.yaml"), str(EXAMPLES / "allowed" / "bell-local.yaml"), "-f", "json")
    assert result.exit_code == 1  # the service has no sandbox for the IBM run
    outcomes = {r["name"]: r["status"] for r in json.loads(result.stdout)["results"]}
    assert outcomes == {"vqe-h2-sweep": "denied", "bell-calibration": "allowed"}
    broken = tmp_path / "broken.yaml"
    (tmp_path / "bell.qasm").write_text("OPENQASM 3.0;\nqubit q;\nfoo q;\n")
    broken.write_text((EXAMPLES / "allowed" / "bell-local.yaml").read_text().replace("../circuits/bell.qasm", "bell.qasm"))
    result = cli("check", str(broken), "-f", "json")
    assert result.exit_code == 2
    problem = json.loads(result.stdout)["results"][0]["error"]
    assert problem["source"].endswith("bell.qasm") and problem["problems"][0]["line"] == 3
    assert cli("check", str(broken), "--now", "2026-11-24T00:00:00+00:00").exit_code == 2


def test_waivers_through_the_cli(cli, service, monkeypatch):
    submitter, compliance = token(cli, "submitter", "materials-rnd"), token(cli, "compliance", "audit")
    monkeypatch.setenv("GOVERN_TOKEN", submitter)
    expires = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    requested = cli("waiver", "request", "--rule", "DC-004", "--team", "materials-rnd", "--reason", "DPO sign-off DPO-2026-300", "--expires", expires)
    waiver_id = json.loads(requested.stdout)["id"]
    monkeypatch.setenv("GOVERN_TOKEN", compliance)
    assert json.loads(cli("waiver", "approve", waiver_id).stdout)["status"] == "approved"
    assert json.loads(cli("waiver", "revoke", waiver_id).stdout)["status"] == "revoked"
    assert len(json.loads(cli("waiver", "list").stdout)) == 1
    monkeypatch.setenv("GOVERN_TOKEN", submitter)
    assert [w["id"] for w in json.loads(cli("waiver", "list").stdout)] == [waiver_id]  # its own team's by default
    refused = cli("waiver", "request", "--rule", "DC-001", "--team", "materials-rnd", "--reason", "DPO sign-off DPO-2026-300", "--expires", expires)
    assert refused.exit_code == 2 and "'DC-001' is not waivable" in refused.output


def test_client_errors_exit_two(cli, monkeypatch):
    monkeypatch.delenv("GOVERN_TOKEN", raising=False)
    assert cli("submit", str(EXAMPLES / "allowed" / "bell-local.yaml"), "--server", "http://127.0.0.1:9").exit_code == 2
    monkeypatch.setenv("GOVERN_TOKEN", "gov_x")
    result = cli("submit", str(EXAMPLES / "allowed" / "bell-local.yaml"), "--server", "http://127.0.0.1:9")
    assert result.exit_code == 2 and "cannot reach" in result.output


def test_the_audit_export_matches_the_log(cli, service, monkeypatch):
    """Rows built from the hashed content, times with their offset, actors by token name; JSON Lines verify
    without the database."""
    import csv
    import io

    from govern.audit.record_format import record_text, row_hash
    from tests.api.test_api import example

    alice = cli("token", "create", "--role", "submitter", "--team", "platform-qa", "--name", "alice").stdout.strip().splitlines()[-1]
    auditor = token(cli, "compliance", "audit")
    for name in ("bell-local", "unknown-backend"):
        manifest, circuit = example(name)
        httpx.post(f"{service}/v1/check", json={"manifest": manifest, "circuit": circuit}, headers={"Authorization": f"Bearer {alice}"}, timeout=30).raise_for_status()
    monkeypatch.setenv("GOVERN_TOKEN", auditor)
    exported = cli("audit", "export")
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    prev = "0" * 64
    for row in rows:
        assert row["prev_hash"] == prev and row_hash({**row, "record": record_text(row["record"], row["format"])}) == row["hash"]
        assert row["recorded_at"].endswith("+00:00") and row["actor_name"] == "alice" and row["team"] == "platform-qa"
        prev = row["hash"]
    assert [row["seq"] for row in rows] == [1, 2]
    denied = list(csv.DictReader(io.StringIO(cli("audit", "export", "--format", "csv", "--outcome", "denied").stdout)))
    assert [(r["seq"], r["actor_name"], r["format"]) for r in denied] == [("2", "alice", "3")]
    assert denied[0]["recorded_at"].endswith("+00:00")
    monkeypatch.setenv("GOVERN_TOKEN", alice)
    refused = cli("audit", "export")
    assert refused.exit_code == 2 and "403" in refused.output


def test_submit_in_json_is_one_object_with_the_submission_decision_and_run_ids(cli, service, monkeypatch):
    monkeypatch.setenv("GOVERN_TOKEN", token(cli, "submitter", "platform-qa"))
    allowed = cli("submit", str(EXAMPLES / "allowed" / "bell-local.yaml"), "--format", "json")
    assert allowed.exit_code == 0, allowed.output
    document = json.loads(allowed.stdout)
    submission = document["submission"]
    assert submission["id"] and submission["outcome"] == "allowed" and submission["run_id"]
    assert submission["decision_id"] == document["results"][0]["decision"]["decision_id"]
    (job,) = submission["jobs"]
    assert job["status"] == "queued" and job["run_id"]
    stored = httpx.get(f"{service}/v1/submissions/{submission['id']}", headers={"Authorization": f"Bearer {token(cli, 'compliance', 'audit')}"})
    assert stored.json()["submission"]["run_id"] == submission["run_id"]
    denied = cli("submit", str(EXAMPLES / "denied" / "no-sandbox.yaml"), "--format", "json")
    assert denied.exit_code == 1, denied.output
    refused = json.loads(denied.stdout)["submission"]
    assert refused["outcome"] == "denied" and refused["decision_id"] and refused["jobs"] == []
