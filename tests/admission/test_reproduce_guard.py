"""The rest of a gate that cannot be bypassed, on SQLite and PostgreSQL: a reproduction is authorised,
decided, recorded, billed and rate-limited; a check cannot probe another team's sandbox; the access log of
a real `govern serve` never holds a token."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from decimal import Decimal

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from govern.api import create_app
from govern.db.database import create_db_engine, session_scope
from govern.db.public import TokenCreate
from govern.db.tables import DecisionRecord, JobRecord, LedgerEntry, SandboxRecord
from govern.dispatch.jobs import JobKind
from govern.dispatch.worker import WorkerOptions
from govern.records.tokens import create_token
from govern.settings import Settings
from tests.admission.test_submissions_api import funded, vqe_body
from tests.api.test_api import auth, example, token_for
from tests.dispatch.test_dispatch import bell, lineage, submit, worker
from tests.lineage_schemas import validate_event
from tests.live_service import running_service
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow


PATIENT = WorkerOptions(lease_s=10.0, poll_s=0.05, job_timeout_s=600, call_grace_s=30.0)
"""Noisy IBM simulations take seconds each, minutes on a loaded machine: no job here should time out."""


def app_for(database_url: str, **settings) -> TestClient:
    return TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False, **settings)))


@pytest.fixture
def client(database_url):
    with app_for(database_url) as client:
        yield client


def identified(client, role: str, team: str) -> tuple[str, dict[str, str]]:
    """A new token's id (the decision log's actor) and its request headers."""
    with session_scope(client.app.state.db) as session:
        public, secret = create_token(session, TokenCreate(role=role, team=team, name=f"{role}-{team}"))
    return str(public.id), auth(secret)


def reproduce_records(client) -> list[DecisionRecord]:
    with Session(client.app.state.db) as session:
        return list(session.exec(select(DecisionRecord).where(DecisionRecord.kind == "reproduce").order_by(col(DecisionRecord.seq))))


def reproduce(client, submission_id: str, headers):
    return client.post(f"/v1/submissions/{submission_id}/reproduce", headers=headers)


def test_only_the_team_and_compliance_may_reproduce_a_run(client):
    headers, body = bell(client)
    submission_id = submit(client, headers, body)
    worker(client, options=PATIENT).run_until_idle()
    for role, team in (("submitter", "quantum-finance"), ("procurement", "procurement"), ("producer", "platform-qa")):
        refused = reproduce(client, submission_id, identified(client, role, team)[1])
        assert refused.status_code == 403, (role, refused.json())
    assert reproduce(client, "no-such-submission", headers).status_code == 404
    assert reproduce_records(client) == []  # refusals before any decision record nothing
    auditor_id, auditor = identified(client, "compliance", "audit")
    allowed = reproduce(client, submission_id, auditor)
    assert allowed.status_code == 202, allowed.json()
    (record,) = reproduce_records(client)
    assert (record.actor, record.team, record.outcome) == (auditor_id, "platform-qa", "allowed")


def test_a_reproduction_is_decided_recorded_and_billed_like_a_submission(client):
    submitter = funded(client, "10.00")  # each run of the IBM example is estimated and billed at 4.80 USD
    submission_id = submit(client, submitter, vqe_body())
    actor = client.get(f"/v1/submissions/{submission_id}", headers=submitter).json()["submission"]["created_by"]
    worker(client, options=PATIENT).run_until_idle()

    first = reproduce(client, submission_id, submitter)
    assert first.status_code == 202, first.json()
    record = reproduce_records(client)[-1]
    recorded = json.loads(record.record)
    assert (record.actor, record.team, recorded["decision"]["allow"]) == (actor, "materials-rnd", True)
    assert recorded["input"]["context"]["sandboxes"]["SBX-2026-014"]["spent"] == 4.8  # the live spend, not the original's
    with Session(client.app.state.db) as session:
        reservation = session.exec(select(LedgerEntry).order_by(col(LedgerEntry.id).desc())).first()
    assert (reservation.kind, reservation.amount) == ("reserve", Decimal("4.80")) and first.json()["id"] in reservation.note
    start = lineage(client, first.json()["run_id"])[0]
    assert start["run"]["facets"]["govern_policyDecision"]["decisionId"] == record.decision_id  # the run cites its decision
    validate_event(start)

    exhausted = reproduce(client, submission_id, submitter)  # 4.80 spent and 4.80 reserved of 10.00
    assert exhausted.status_code == 403 and exhausted.json()["detail"] == "denied by policy"
    assert [f["rule"] for f in exhausted.json()["decision"]["deny"]] == ["PR-005"]
    denied = reproduce_records(client)[-1]
    assert denied.outcome == "denied" and denied.decision_id == exhausted.json()["decision"]["decision_id"]

    worker(client, options=PATIENT).run_until_idle()
    job = client.get(f"/v1/jobs/{first.json()['id']}", headers=submitter).json()
    assert job["kind"] == JobKind.REPRODUCTION.value and job["reproduced"] is True and Decimal(job["estimated_cost"]) == Decimal("4.80")
    with Session(client.app.state.db) as session:
        sandbox = session.get(SandboxRecord, "SBX-2026-014")
        assert (sandbox.spent, sandbox.reserved) == (Decimal("9.60"), Decimal("0.00"))
        kinds = [(e.kind, str(e.amount)) for e in session.exec(select(LedgerEntry).order_by(LedgerEntry.id))]
        assert len(session.exec(select(JobRecord)).all()) == 2
    assert kinds[3:] == [("reserve", "4.80"), ("release", "-4.80"), ("charge", "4.80")]

    procurement = auth(token_for(client, "procurement", "procurement"))
    assert client.post("/v1/sandboxes/SBX-2026-014/revoke", headers=procurement).status_code == 200
    revoked = reproduce(client, submission_id, submitter)
    assert revoked.status_code == 403 and "PR-002" in [f["rule"] for f in revoked.json()["decision"]["deny"]]
    assert [r.outcome for r in reproduce_records(client)][1:] == ["denied", "denied"]


def test_reproductions_are_limited_per_token_counted_from_the_log(database_url):
    with app_for(database_url, reproduce_limit=2, reproduce_window_s=600) as client:
        headers, body = bell(client)
        submission_id = submit(client, headers, body)
        worker(client, options=PATIENT).run_until_idle()
        assert [reproduce(client, submission_id, headers).status_code for _ in range(2)] == [202, 202]
        limited = reproduce(client, submission_id, headers)
        assert limited.status_code == 429 and "2 reproductions per 600 s" in limited.json()["detail"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 600
        other = auth(token_for(client, "submitter", "platform-qa"))
        assert reproduce(client, submission_id, other).status_code == 202  # the limit is per token
    with app_for(database_url, reproduce_limit=2, reproduce_window_s=600) as restarted:
        assert reproduce(restarted, submission_id, headers).status_code == 429  # it survives a restart
        assert len(reproduce_records(restarted)) == 3


def test_concurrent_reproductions_cannot_overrun_the_limit(database_url):
    with app_for(database_url, reproduce_limit=1) as client:
        headers, body = bell(client)
        submission_id = submit(client, headers, body)
        worker(client, options=PATIENT).run_until_idle()
        barrier, statuses = threading.Barrier(4), []

        def one() -> None:
            barrier.wait()
            statuses.append(reproduce(client, submission_id, headers).status_code)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(statuses) == [202, 429, 429, 429]
        assert len(reproduce_records(client)) == 1


VOLATILE = ("decision_id", "evaluated_at", "evaluation_ms", "input_hash", "id", "run_id", "created_at")


def _answer(response, sandbox_id: str) -> tuple[int, str]:
    """Status and body with the per-request facts (ids, times, the input hash) and the sandbox id blanked."""

    def blank(value):
        if isinstance(value, dict):
            return {key: "<volatile>" if key in VOLATILE else blank(item) for key, item in value.items()}
        if isinstance(value, list):
            return [blank(item) for item in value]
        return value.replace(sandbox_id, "<sandbox>") if isinstance(value, str) else value

    return response.status_code, json.dumps(blank(response.json()), sort_keys=True)


def test_another_teams_sandbox_answers_as_one_that_does_not_exist(client):
    funded(client, "25000.00")  # SBX-2026-014 belongs to materials-rnd
    finance = auth(token_for(client, "submitter", "quantum-finance"))
    manifest, circuit = example("vqe-h2-ibm")

    def body(sandbox_id: str) -> dict:
        metadata = {**manifest["metadata"], "team": "quantum-finance"}
        return {"manifest": {**manifest, "metadata": metadata, "spec": {**manifest["spec"], "sandbox": sandbox_id}}, "circuit": circuit}

    for path in ("/v1/check", "/v1/submissions"):
        theirs = _answer(client.post(path, json=body("SBX-2026-014"), headers=finance), "SBX-2026-014")
        missing = _answer(client.post(path, json=body("SBX-2026-999"), headers=finance), "SBX-2026-999")
        assert theirs == missing, path
        assert "not on record" in theirs[1] and "materials-rnd" not in theirs[1] and "25000" not in theirs[1]
    for path in ("/v1/sandboxes/{}", "/v1/sandboxes/{}/ledger"):
        theirs = client.get(path.format("SBX-2026-014"), headers=finance)
        missing = client.get(path.format("SBX-2026-999"), headers=finance)
        assert _answer(theirs, "SBX-2026-014") == _answer(missing, "SBX-2026-999") and theirs.status_code == 404

    auditor = auth(token_for(client, "compliance", "audit"))  # compliance reads every sandbox, so it is told whose it is
    told = client.post("/v1/check", json=body("SBX-2026-014"), headers=auditor).json()["decision"]
    assert any("belongs to team 'materials-rnd'" in f["message"] for f in told["deny"])
    assert client.get("/v1/sandboxes/SBX-2026-014", headers=auditor).status_code == 200


def test_the_access_log_never_records_a_token(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'govern.db'}"
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log, running_service(database_url, log=log) as url:
        with session_scope(create_db_engine(database_url)) as session:
            _, secret = create_token(session, TokenCreate(role="admin", team="ops", name="ops"))
        bearer = {"Authorization": f"Bearer {secret}"}
        assert httpx.get(f"{url}/healthz?access_token=SECRET123&probe=1").status_code == 200
        assert httpx.get(f"{url}/v1/policy", params={"token": "SECRET123", "api_key": secret}, headers=bearer).status_code == 200
        assert httpx.get(f"{url}/v1/jobs/{secret}", headers=bearer).status_code == 404
        metrics = httpx.get(f"{url}/metrics", headers=bearer).text
    logged = log_path.read_text()
    assert "access_token=REDACTED&probe=1" in logged and "GET /v1/policy?token=REDACTED&api_key=REDACTED" in logged
    for text in (logged, metrics):
        assert "SECRET123" not in text and secret not in text and secret[:16] not in text


def test_the_cli_tells_a_denied_and_a_rate_limited_reproduction_apart(cli, tmp_path, monkeypatch):
    database_url = f"sqlite:///{tmp_path / 'govern.db'}"
    with running_service(database_url, env={"GOVERN_REPRODUCE_LIMIT": "2"}) as url:
        with session_scope(create_db_engine(database_url)) as session:
            secrets = {role: create_token(session, TokenCreate(role=role, team=team, name=role))[1]
                       for role, team in (("procurement", "procurement"), ("submitter", "materials-rnd"))}
        procurement, submitter = ({"Authorization": f"Bearer {secrets[role]}"} for role in ("procurement", "submitter"))
        httpx.put(f"{url}/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=procurement)
        httpx.post(f"{url}/v1/sandboxes", json=sandbox_request(budget="100.00"), headers=submitter)
        httpx.post(f"{url}/v1/sandboxes/SBX-2026-014/approve", headers=procurement)
        submission_id = httpx.post(f"{url}/v1/submissions", json=vqe_body(), headers=submitter, timeout=60).json()["submission"]["id"]
        subprocess.run([sys.executable, "-m", "govern", "worker", "--once"], env={**os.environ, "GOVERN_DATABASE_URL": database_url},
                       check=True, capture_output=True, timeout=300)
        httpx.post(f"{url}/v1/sandboxes/SBX-2026-014/revoke", headers=procurement)
        monkeypatch.setenv("GOVERN_SERVER", url)
        monkeypatch.setenv("GOVERN_TOKEN", secrets["submitter"])
        denied = cli("reproduce", submission_id)
        assert denied.exit_code == 1 and "denied by policy" in denied.output and "PR-002" in denied.output
        assert cli("reproduce", submission_id).exit_code == 1  # a denied reproduction is recorded and counts
        limited = cli("reproduce", submission_id)
        assert limited.exit_code == 2 and "rate limited" in limited.output
        assert re.search(r"try again in \d+ s", limited.output)
