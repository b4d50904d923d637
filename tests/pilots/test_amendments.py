"""Changes of a pilot's terms, on SQLite and PostgreSQL: proposed with a reason, approved or rejected by someone
other than the proposer, the sandbox taking the new terms (and a new revision) only on approval, one pending
at a time, a stale proposal refused, the history kept; over the API, the console and the CLI."""

from __future__ import annotations

import json
import re
import threading

import httpx
import pytest
from sqlmodel import Session

from govern.db.tables import SandboxRecord
from tests.api.test_api import auth
from tests.cli.test_client_cli import service, token
from tests.console.test_console_session import client, csrf_of, sign_in, token_for
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow
__all__ = ["client", "service"]

SANDBOX = "/v1/sandboxes/SBX-2026-014"
AMENDMENTS = f"{SANDBOX}/pilot/amendments"
TERMS = {"objective": "Learn whether the device is reliable", "failureBudget": {"maxFailedJobs": 2},
         "criteria": [{"name": "jobs-succeed", "metric": "success_rate", "direction": "at_least", "target": 0.9}]}
NEW_TERMS = {**TERMS, "failureBudget": {"maxFailedJobs": 4, "maxFailedSpend": "80.00"},
             "criteria": [*TERMS["criteria"], {"name": "cheap", "metric": "cost_per_job", "direction": "at_most", "target": 25}]}


def pilot(client, **overrides) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """An approved pilot of materials-rnd's: the submitter who requested it and two procurement buyers."""
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    buyer, colleague = auth(token_for(client, "procurement", "procurement")), auth(token_for(client, "procurement", "procurement"))
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=buyer)
    assert client.post("/v1/sandboxes", json=sandbox_request(**{"pilot": TERMS, **overrides}), headers=submitter).status_code == 201
    assert client.post(f"{SANDBOX}/approve", headers=buyer).status_code == 200
    return submitter, buyer, colleague


def propose(client, headers: dict[str, str], terms: dict | None = None, reason: str = "two more failures are affordable") -> dict:
    answer = client.post(AMENDMENTS, json={"terms": terms or NEW_TERMS, "reason": reason}, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def stored(client) -> SandboxRecord:
    with Session(client.app.state.db) as session:
        row = session.get(SandboxRecord, "SBX-2026-014")
        session.expunge(row)
        return row


def test_an_approved_change_replaces_the_terms_and_bumps_the_revision_but_keeps_the_failure_record(client):
    submitter, buyer, _ = pilot(client)
    with Session(client.app.state.db) as session:
        row = session.get(SandboxRecord, "SBX-2026-014")
        row.jobs_ended, row.jobs_failed = 3, 1
        session.add(row)
        session.commit()
    before = stored(client)

    amendment = propose(client, submitter)
    assert amendment["status"] == "pending" and amendment["reason"] == "two more failures are affordable"
    assert amendment["replaces"]["failureBudget"]["maxFailedJobs"] == 2 and amendment["terms"]["failureBudget"]["maxFailedJobs"] == 4
    assert client.get(SANDBOX, headers=submitter).json()["pilot"]["failureBudget"]["maxFailedJobs"] == 2  # not yet
    assert stored(client).revision == before.revision
    refused = client.post(f"{AMENDMENTS}/{amendment['id']}/approve", headers=submitter)
    assert refused.status_code == 403 and "may not sandbox.approve" in refused.json()["detail"]

    approved = client.post(f"{AMENDMENTS}/{amendment['id']}/approve", headers=buyer)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decidedAt"] is not None
    sandbox = client.get(SANDBOX, headers=submitter).json()
    assert sandbox["pilot"]["failureBudget"]["maxFailedJobs"] == 4 and [c["name"] for c in sandbox["pilot"]["criteria"]] == ["jobs-succeed", "cheap"]
    assert sandbox["failures"]["ended"] == 3 and sandbox["failures"]["failed"] == 1
    after = stored(client)
    assert after.revision == before.revision + 1 and (after.jobs_ended, after.jobs_failed) == (3, 1)
    progress = client.get(f"{SANDBOX}/pilot", headers=submitter).json()
    assert [c["name"] for c in progress["criteria"]] == ["jobs-succeed", "cheap"]
    again = client.post(f"{AMENDMENTS}/{amendment['id']}/reject", headers=buyer)
    assert again.status_code == 409 and "approved" in again.json()["detail"]


def test_the_proposer_cannot_decide_their_own_change(client):
    _, buyer, colleague = pilot(client)
    amendment = propose(client, buyer)
    for decision in ("approve", "reject"):
        refused = client.post(f"{AMENDMENTS}/{amendment['id']}/{decision}", headers=buyer)
        assert refused.status_code == 403 and "separation of duties" in refused.json()["detail"]
    assert client.get(AMENDMENTS, headers=buyer).json()[0]["status"] == "pending"
    assert client.post(f"{AMENDMENTS}/{amendment['id']}/approve", headers=colleague).json()["status"] == "approved"


def test_one_change_is_pending_at_a_time_and_a_rejected_one_leaves_the_terms(client):
    submitter, buyer, _ = pilot(client)
    first = propose(client, submitter)
    second = client.post(AMENDMENTS, json={"terms": {**NEW_TERMS, "objective": "Another"}, "reason": "also"}, headers=submitter)
    assert second.status_code == 409 and "pending" in second.json()["detail"]
    revision, terms = stored(client).revision, client.get(SANDBOX, headers=submitter).json()["pilot"]

    rejected = client.post(f"{AMENDMENTS}/{first['id']}/reject", headers=buyer)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert client.get(SANDBOX, headers=submitter).json()["pilot"] == terms and terms["failureBudget"]["maxFailedJobs"] == 2
    assert stored(client).revision == revision
    assert client.post(f"{AMENDMENTS}/{first['id']}/approve", headers=buyer).status_code == 409  # decided

    third = propose(client, submitter, reason="after the rejection, a smaller change")
    assert client.post(f"{AMENDMENTS}/{third['id']}/approve", headers=buyer).status_code == 200
    history = client.get(AMENDMENTS, headers=submitter).json()
    assert [(item["id"], item["status"]) for item in history] == [(first["id"], "rejected"), (third["id"], "approved")]
    assert history[0]["decidedBy"] == history[1]["decidedBy"] and history[0]["requestedBy"] == history[1]["requestedBy"]


def test_proposals_made_at_once_leave_one_pending(client):
    submitter, _, colleague = pilot(client)
    start = threading.Barrier(4)
    answers: list[int] = []

    def proposal(headers: dict[str, str], objective: str) -> None:
        start.wait()
        answers.append(client.post(AMENDMENTS, json={"terms": {**NEW_TERMS, "objective": objective}, "reason": "at once"}, headers=headers).status_code)

    threads = [threading.Thread(target=proposal, args=(headers, f"objective {n}")) for n, headers in enumerate((submitter, colleague) * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [201, 409, 409, 409]
    assert [item["status"] for item in client.get(AMENDMENTS, headers=submitter).json()] == ["pending"]


def test_a_change_whose_replaced_terms_are_no_longer_current_is_stale(client):
    submitter, buyer, _ = pilot(client)
    amendment = propose(client, submitter)
    with Session(client.app.state.db) as session:  # the terms moved on by a path other than this proposal
        row = session.get(SandboxRecord, "SBX-2026-014")
        row.pilot_terms = {**row.pilot_terms, "objective": "Edited since"}
        session.add(row)
        session.commit()
    stale = client.post(f"{AMENDMENTS}/{amendment['id']}/approve", headers=buyer)
    assert stale.status_code == 409 and "stale" in stale.json()["detail"]
    assert stored(client).pilot_terms["objective"] == "Edited since"
    assert client.get(AMENDMENTS, headers=buyer).json()[0]["status"] == "pending"
    assert client.post(f"{AMENDMENTS}/{amendment['id']}/reject", headers=buyer).status_code == 200


def test_refusals_unknown_unreadable_closed_and_malformed(client):
    submitter, buyer, _ = pilot(client)
    stranger = auth(token_for(client, "submitter", "quantum-finance"))
    body = {"terms": NEW_TERMS, "reason": "because"}
    assert client.get(AMENDMENTS, headers=stranger).status_code == 404  # another team's is not there
    assert client.post(AMENDMENTS, json=body, headers=stranger).status_code == 404
    assert client.post("/v1/sandboxes/SBX-NONE/pilot/amendments", json=body, headers=buyer).status_code == 404
    assert client.post(f"{AMENDMENTS}/AMD-000000000000/approve", headers=buyer).status_code == 404
    for bad in ({"terms": NEW_TERMS, "reason": "   "}, {"terms": NEW_TERMS, "reason": "x" * 2001}, {"terms": {**NEW_TERMS, "criteria": []}, "reason": "r"},
                {"terms": NEW_TERMS}, {"terms": NEW_TERMS, "reason": "r", "extra": 1}):
        assert client.post(AMENDMENTS, json=bad, headers=submitter).status_code == 422, bad
    same = client.post(AMENDMENTS, json={"terms": TERMS, "reason": "no change"}, headers=submitter)
    assert same.status_code == 422 and "already has these pilot terms" in same.json()["detail"]

    pending = propose(client, submitter)
    other_team_amendment = client.post(f"/v1/sandboxes/SBX-2026-015/pilot/amendments/{pending['id']}/approve", headers=buyer)
    assert other_team_amendment.status_code == 404
    assert client.post(f"{SANDBOX}/revoke", headers=buyer).status_code == 200
    closed = client.post(f"{AMENDMENTS}/{pending['id']}/approve", headers=auth(token_for(client, "procurement", "procurement")))
    assert closed.status_code == 409 and "revoked" in closed.json()["detail"]
    assert client.post(f"{AMENDMENTS}/{pending['id']}/reject", headers=buyer).status_code == 200  # still closable
    assert client.post(AMENDMENTS, json=body, headers=submitter).status_code == 409


def test_a_sandbox_without_terms_takes_its_first_through_a_change(client):
    submitter, buyer, _ = pilot(client, pilot=None)
    amendment = propose(client, submitter, terms=TERMS, reason="the pilot's terms were left out of the request")
    assert amendment["replaces"] is None
    assert client.post(f"{AMENDMENTS}/{amendment['id']}/approve", headers=buyer).status_code == 200
    assert client.get(SANDBOX, headers=submitter).json()["pilot"]["objective"] == TERMS["objective"]


def test_the_console_lists_changes_and_lets_another_buyer_decide(client):
    submitter, buyer, _ = pilot(client)
    proposer_secret = token_for(client, "procurement", "procurement")
    amendment = propose(client, auth(proposer_secret), reason="a <b>cheaper</b> pilot")
    sign_in(client, proposer_secret)
    mine = client.get("/ui/sandboxes/SBX-2026-014")
    assert "Term changes" in mine.text and amendment["id"] in mine.text and "a &lt;b&gt;cheaper&lt;/b&gt; pilot" in mine.text
    assert re.search(rf'id="approve-{amendment["id"]}"[^>]* disabled', mine.text) and "separation of duties" in mine.text
    refused = client.post(f"/ui/sandboxes/SBX-2026-014/amendments/{amendment['id']}/approve", data={"csrf_token": csrf_of(mine.text)})
    assert refused.status_code == 403

    client.cookies.clear()
    sign_in(client, token_for(client, "procurement", "procurement"))
    theirs = client.get("/ui/sandboxes/SBX-2026-014")
    assert not re.search(rf'id="approve-{amendment["id"]}"[^>]* disabled', theirs.text)
    no_csrf = client.post(f"/ui/sandboxes/SBX-2026-014/amendments/{amendment['id']}/approve", data={})
    assert no_csrf.status_code == 403 and stored(client).pilot_terms["failureBudget"]["maxFailedJobs"] == 2
    sent = client.post(f"/ui/sandboxes/SBX-2026-014/amendments/{amendment['id']}/approve", data={"csrf_token": csrf_of(theirs.text)},
                       follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/sandboxes/SBX-2026-014?term-change=approved#terms"
    shown = client.get(sent.headers["location"])
    assert "Term change approved." in shown.text and "4 failed jobs" in shown.text and 'id="approve-' not in shown.text


def test_the_cli_proposes_lists_and_decides_over_http(cli, service, monkeypatch, tmp_path):
    submitter, buyer, colleague = token(cli, "submitter", "materials-rnd"), token(cli, "procurement", "procurement"), token(cli, "procurement", "procurement")
    client = httpx.Client(base_url=service)
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=auth(buyer))
    assert client.post("/v1/sandboxes", json=sandbox_request(pilot=TERMS), headers=auth(submitter)).status_code == 201
    assert client.post(f"{SANDBOX}/approve", headers=auth(buyer)).status_code == 200
    terms = tmp_path / "terms.json"
    terms.write_text(json.dumps(NEW_TERMS))

    monkeypatch.setenv("GOVERN_TOKEN", submitter)
    proposed = cli("pilot", "amend", "SBX-2026-014", "--terms", terms, "--reason", "a wider failure budget")
    assert proposed.exit_code == 0, proposed.output
    first = json.loads(proposed.stdout)
    second = cli("pilot", "amend", "SBX-2026-014", "--terms", terms, "--reason", "again")
    assert second.exit_code == 2 and "pending" in second.output
    assert cli("pilot", "amend", "SBX-2026-014", "--terms", tmp_path / "missing.json", "--reason", "r").exit_code == 2
    assert cli("pilot", "approve-amendment", "SBX-2026-014", first["id"]).exit_code == 2  # submitters do not approve

    monkeypatch.setenv("GOVERN_TOKEN", buyer)
    rejected = cli("pilot", "reject-amendment", "SBX-2026-014", first["id"])
    assert rejected.exit_code == 0 and json.loads(rejected.stdout)["status"] == "rejected"
    monkeypatch.setenv("GOVERN_TOKEN", submitter)
    again = json.loads(cli("pilot", "amend", "SBX-2026-014", "--terms", terms, "--reason", "once more").stdout)
    monkeypatch.setenv("GOVERN_TOKEN", colleague)
    assert json.loads(cli("pilot", "approve-amendment", "SBX-2026-014", again["id"]).stdout)["status"] == "approved"

    listed = cli("pilot", "amendments", "SBX-2026-014", "-o", "json")
    assert [item["status"] for item in json.loads(listed.stdout)] == ["rejected", "approved"]
    table = cli("pilot", "amendments", "SBX-2026-014")
    assert table.exit_code == 0 and first["id"] in table.stdout and "rejected" in table.stdout
    assert json.loads(cli("sandbox", "list").stdout)[0]["pilot"]["failureBudget"]["maxFailedJobs"] == 4
    status = cli("pilot", "status", "SBX-2026-014", "-o", "json")
    assert [criterion["name"] for criterion in json.loads(status.stdout)["criteria"]] == ["jobs-succeed", "cheap"]
