"""The console's procurement pages in-process, on SQLite and PostgreSQL: sandboxes (list, request form,
approval with separation of duties shown, ledger) and vendors; refusals, CSRF and bad input as 4xx pages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from govern.db.database import session_scope
from govern.db.tables import LedgerEntry, SandboxRecord
from govern.records.procurement import LIFECYCLES, SandboxFilters, page_of_sandboxes
from tests.api.test_api import auth
from tests.console.test_console_session import client, csrf_of, sign_in, token_for

pytestmark = pytest.mark.slow
__all__ = ["client"]


def vendor(client, secret: str, name: str = "ibm") -> None:
    answer = client.put(f"/v1/vendors/{name}", json={"dataProcessingAgreement": True, "regions": ["us-east"]}, headers=auth(secret))
    assert answer.status_code == 200


def sandbox(client, secret: str, sandbox_id: str, team: str = "materials-rnd", days_ago: int = 7, **overrides) -> None:
    start = datetime.now(UTC) - timedelta(days=days_ago)
    body = {"id": sandbox_id, "team": team, "vendor": "ibm", "devices": ["ibm_brisbane"], "start": start.isoformat(),
            "end": (start + timedelta(weeks=10)).isoformat(), "budget": "1000.00", **overrides}
    assert client.post("/v1/sandboxes", json=body, headers=auth(secret)).status_code == 201


def request_form(today: date, **overrides) -> dict[str, str]:
    return {"id": "SBX-UI-1", "team": "materials-rnd", "vendor": "ibm", "devices": "ibm_brisbane, ibm_kyiv", "budget": "2500.50",
            "currency": "USD", "start": today.isoformat(), "end": (today + timedelta(weeks=8)).isoformat(), **overrides}


def test_a_request_is_approved_by_someone_else_and_separation_of_duties_is_shown(client):
    buyer, colleague = token_for(client, "procurement", "procurement"), token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    sign_in(client, buyer)
    form = client.get("/ui/sandboxes/-/new")
    today = datetime.now(UTC).date()
    assert form.status_code == 200 and f'min="{today.isoformat()}"' in form.text
    assert f'max="{(today + timedelta(weeks=12)).isoformat()}"' in form.text and '<label for="end">' in form.text
    sent = client.post("/ui/sandboxes/-/new", data={**request_form(today), "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/sandboxes/SBX-UI-1?done=requested"

    mine = client.get(sent.headers["location"])
    assert mine.status_code == 200 and "requested" in mine.text and "ibm_kyiv" in mine.text
    assert re.search(r'<button type="submit" id="approve"[^>]* disabled', mine.text)
    assert "You requested this sandbox: separation of duties" in mine.text
    refused = client.post("/ui/sandboxes/SBX-UI-1/approve", data={"csrf_token": csrf_of(mine.text)})
    assert refused.status_code == 403 and "separation of duties" in refused.text and "<html" in refused.text

    client.cookies.clear()
    sign_in(client, colleague)
    theirs = client.get("/ui/sandboxes/SBX-UI-1")
    assert not re.search(r'id="approve"[^>]* disabled', theirs.text)
    assert client.post("/ui/sandboxes/SBX-UI-1/approve", data={}).status_code == 403  # no CSRF token
    approved = client.post("/ui/sandboxes/SBX-UI-1/approve", data={"csrf_token": csrf_of(theirs.text)}, follow_redirects=False)
    assert approved.status_code == 303 and approved.headers["location"].endswith("?done=approved")
    shown = client.get(approved.headers["location"])
    assert "Sandbox SBX-UI-1 approved." in shown.text and 'class="lifecycle active"' in shown.text
    assert re.search(r"Requested by <strong>procurement-user</strong>.*\n.*Approved by <strong>procurement-user</strong> on", shown.text)
    assert 'id="approve"' not in shown.text and 'id="revoke"' in shown.text
    again = client.post("/ui/sandboxes/SBX-UI-1/approve", data={"csrf_token": csrf_of(shown.text)})
    assert again.status_code == 409 and "cannot be approved" in again.text


def test_the_request_form_shows_the_records_refusals_with_their_status(client):
    buyer = token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    sign_in(client, buyer)
    today = datetime.now(UTC).date()
    csrf = csrf_of(client.get("/ui/sandboxes/-/new").text)

    def send(**overrides):
        return client.post("/ui/sandboxes/-/new", data={**request_form(today, **overrides), "csrf_token": csrf}, follow_redirects=False)

    too_long = send(end=(today + timedelta(weeks=12, days=1)).isoformat())
    assert too_long.status_code == 422 and "a sandbox window is at most 12 weeks" in too_long.text
    assert 'value="SBX-UI-1"' in too_long.text and 'value="2500.50"' in too_long.text  # the form comes back filled in
    assert send(vendor="nobody").status_code == 422
    assert "budget:" in send(budget="lots").text
    assert "start:" in send(start="yesterday").text
    assert send(devices=",".join(f"d{i}" for i in range(101))).status_code == 422
    assert send(id="x" * 201).status_code == 422
    assert send().status_code == 303
    duplicate = send()
    assert duplicate.status_code == 409 and "already exists" in duplicate.text
    assert client.post("/ui/sandboxes/-/new", data=request_form(today, id="SBX-UI-2")).status_code == 403  # no CSRF token


def test_submitters_see_and_request_only_for_their_team_and_decide_nothing(client):
    buyer, submitter = token_for(client, "procurement", "procurement"), token_for(client, "submitter", "materials-rnd")
    vendor(client, buyer)
    sandbox(client, buyer, "SBX-MINE")
    sandbox(client, buyer, "SBX-THEIRS", team="quantum-finance")
    sign_in(client, submitter)
    listing = client.get("/ui/sandboxes")
    assert listing.status_code == 200 and "SBX-MINE" in listing.text and "SBX-THEIRS" not in listing.text
    assert client.get("/ui/sandboxes?team=quantum-finance").status_code == 403
    assert client.get("/ui/sandboxes/SBX-THEIRS").status_code == 404  # as the API: no probing another team's ids
    mine = client.get("/ui/sandboxes/SBX-MINE")
    assert re.search(r'id="approve"[^>]* disabled', mine.text) and "role &#39;submitter&#39; may not sandbox.approve" in mine.text
    assert "You requested this sandbox" not in mine.text
    assert client.post("/ui/sandboxes/SBX-MINE/approve", data={"csrf_token": csrf_of(mine.text)}).status_code == 403
    assert client.post("/ui/sandboxes/SBX-THEIRS/revoke", data={"csrf_token": csrf_of(mine.text)}).status_code == 404
    today = datetime.now(UTC).date()
    other_team = client.post("/ui/sandboxes/-/new", data={**request_form(today, team="quantum-finance"), "csrf_token": csrf_of(mine.text)})
    assert other_team.status_code == 403
    client.cookies.clear()
    sign_in(client, token_for(client, "compliance", "audit"))
    assert client.get("/ui/sandboxes/-/new").status_code == 403  # compliance reads sandboxes, requests none
    assert "Request a sandbox" not in client.get("/ui/sandboxes").text


def test_the_list_filters_by_lifecycle_pages_by_cursor_and_draws_the_budget(client):
    buyer, other = token_for(client, "procurement", "procurement"), token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    for number in range(3):
        sandbox(client, buyer, f"SBX-{number}")
    sandbox(client, buyer, "SBX-OLD", days_ago=100)
    for sandbox_id in ("SBX-1", "SBX-OLD"):
        assert client.post(f"/v1/sandboxes/{sandbox_id}/approve", headers=auth(other)).status_code == 200
    with session_scope(client.app.state.db) as session:
        row = session.get(SandboxRecord, "SBX-1")
        row.spent, row.reserved = Decimal("250.00"), Decimal("500.00")
    sign_in(client, buyer)
    first = client.get("/ui/sandboxes?limit=3")
    assert re.findall(r'href="/ui/sandboxes/(SBX-[^"]+)"', first.text) == ["SBX-OLD", "SBX-2", "SBX-1"]  # newest request first
    older = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    assert re.findall(r'href="/ui/sandboxes/(SBX-[^"]+)"', client.get(older).text) == ["SBX-0"]
    assert '<rect class="spent" x="0" y="0" width="25.00"' in first.text and 'x="25.00" y="0" width="50.00"' in first.text
    assert "style=" not in first.text
    active = client.get("/ui/sandboxes?lifecycle=active")
    assert re.findall(r'href="/ui/sandboxes/(SBX-[^"]+)"', active.text) == ["SBX-1"]
    assert re.findall(r'href="/ui/sandboxes/(SBX-[^"]+)"', client.get("/ui/sandboxes?lifecycle=expired").text) == ["SBX-OLD"]
    assert client.get("/ui/sandboxes?lifecycle=&vendor=&team=").status_code == 200
    assert client.get("/ui/sandboxes?lifecycle=sleeping").status_code == 422
    assert client.get("/ui/sandboxes?cursor=SBX-404").status_code == 422
    assert client.get("/ui/sandboxes?limit=100000").status_code == 422
    assert client.get("/ui/sandboxes/" + "x" * 201).status_code == 422
    assert client.get("/ui/sandboxes/SBX-404").status_code == 404


def test_each_lifecycle_filter_matches_the_lifecycle_each_sandbox_shows(client):
    buyer, other = token_for(client, "procurement", "procurement"), token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    states = {"SBX-REQ": 7, "SBX-LIVE": 7, "SBX-SOON": -7, "SBX-DONE": 100, "SBX-FULL": 7, "SBX-NO": 7, "SBX-OFF": 7}
    for sandbox_id, days_ago in states.items():
        sandbox(client, buyer, sandbox_id, days_ago=days_ago)
    for sandbox_id in ("SBX-LIVE", "SBX-SOON", "SBX-DONE", "SBX-FULL", "SBX-OFF"):
        client.post(f"/v1/sandboxes/{sandbox_id}/approve", headers=auth(other))
    client.post("/v1/sandboxes/SBX-NO/reject", headers=auth(other))
    client.post("/v1/sandboxes/SBX-OFF/revoke", headers=auth(other))
    with session_scope(client.app.state.db) as session:
        session.get(SandboxRecord, "SBX-FULL").reserved = Decimal("1000.00")
    with Session(client.app.state.db) as session:
        now = datetime.now(UTC)
        seen = {}
        for lifecycle in LIFECYCLES:
            page = page_of_sandboxes(session, SandboxFilters(lifecycle=lifecycle), now, before=None, limit=50)
            assert all(item.lifecycle == lifecycle for item in page.items), lifecycle
            seen.update({item.id: lifecycle for item in page.items})
    assert seen == {"SBX-REQ": "requested", "SBX-LIVE": "active", "SBX-SOON": "approved", "SBX-DONE": "expired",
                    "SBX-FULL": "exhausted", "SBX-NO": "rejected", "SBX-OFF": "revoked"}


def test_the_ledger_shows_its_notes_a_page_at_a_time(client, monkeypatch):
    buyer = token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    sandbox(client, buyer, "SBX-LEDGER")
    with session_scope(client.app.state.db) as session:
        for number in range(3):
            session.add(LedgerEntry(sandbox_id="SBX-LEDGER", submission_id=f"sub-{number}", kind="reserve", amount=Decimal("12.50"),
                                    currency="USD", note=f"estimate {number}: 100 shots × 0.125 per shot"))
    monkeypatch.setattr("govern.console.routes.sandboxes.LEDGER_PAGE", 2)
    sign_in(client, buyer)
    page = client.get("/ui/sandboxes/SBX-LEDGER")
    assert "estimate 0: 100 shots × 0.125 per shot" in page.text and "estimate 2" not in page.text
    later = re.search(r'rel="next" href="([^"]+)"', page.text).group(1)
    rest = client.get(later)
    assert "estimate 2" in rest.text and "estimate 0" not in rest.text and 'rel="next"' not in rest.text
    assert client.get("/ui/sandboxes/SBX-LEDGER?after=-1").status_code == 422


def test_vendors_are_listed_for_all_and_edited_by_procurement(client):
    buyer, submitter = token_for(client, "procurement", "procurement"), token_for(client, "submitter", "materials-rnd")
    sign_in(client, buyer)
    form = client.get("/ui/vendors/edit")
    assert form.status_code == 200 and '<label class="check" for="data_processing_agreement">' in form.text
    fields = {"name": "quantinuum", "approved": "on", "data_processing_agreement": "on", "regions": "eu-de, us-east",
              "model": "negotiated", "per_shot": "0.03", "csrf_token": csrf_of(form.text)}
    saved = client.post("/ui/vendors/edit", data=fields, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/ui/vendors?saved=quantinuum"
    listing = client.get(saved.headers["location"])
    assert "Vendor quantinuum saved." in listing.text and "eu-de, us-east" in listing.text and "signed" in listing.text
    assert "0.03 per shot" in listing.text and "/ui/vendors/edit?name=quantinuum" in listing.text
    edit = client.get("/ui/vendors/edit?name=quantinuum")
    assert 'value="eu-de, us-east"' in edit.text and 'value="0.03"' in edit.text and "readonly" in edit.text
    negative = client.post("/ui/vendors/edit", data={**fields, "per_shot": "-1"})
    assert negative.status_code == 422 and "per_shot" in negative.text
    assert client.post("/ui/vendors/edit", data={**fields, "name": ""}).status_code == 422
    assert client.post("/ui/vendors/edit", data={**fields, "csrf_token": "stale"}).status_code == 403
    assert client.get("/ui/vendors/edit?name=nobody").status_code == 404
    client.put("/v1/vendors/quantinuum", json={}, headers=auth(buyer))
    assert "the bundle's list prices" in client.get("/ui/vendors").text

    client.cookies.clear()
    sign_in(client, submitter)
    theirs = client.get("/ui/vendors")
    assert theirs.status_code == 200 and "quantinuum" in theirs.text and "/ui/vendors/edit" not in theirs.text
    assert client.get("/ui/vendors/edit").status_code == 403
    assert client.post("/ui/vendors/edit", data={**fields, "csrf_token": csrf_of(theirs.text)}).status_code == 403


PILOT = {"objective": "Show <b>ibm_brisbane</b> is worth scaling", "failureBudget": {"maxFailedJobs": 3, "counts": ["failed", "cancelled"]},
         "criteria": [{"name": "jobs-succeed", "metric": "success_rate", "direction": "at_least", "target": 0.9},
                      {"name": "cheap", "metric": "cost_per_job", "direction": "at_most", "target": 20}]}


def test_pilot_terms_are_requested_in_the_form_and_shown_with_the_failure_record(client):
    import json

    buyer = token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    sign_in(client, buyer)
    today = datetime.now(UTC).date()
    form = client.get("/ui/sandboxes/-/new")
    assert f'min="{(today + timedelta(weeks=6)).isoformat()}"' in form.text and 'data-min-days="42"' in form.text
    csrf = csrf_of(form.text)

    def send(**overrides):
        return client.post("/ui/sandboxes/-/new", data={**request_form(today, **overrides), "csrf_token": csrf}, follow_redirects=False)

    too_short = send(end=(today + timedelta(weeks=6, days=-1)).isoformat())
    assert too_short.status_code == 422 and "a sandbox window is at least 6 weeks" in too_short.text
    assert "pilot: not JSON" in send(pilot="{objective:").text
    assert send(pilot="[" * 10_000).status_code == 422
    unnamed = send(pilot=json.dumps({**PILOT, "failureBudget": {"counts": ["failed"]}}))
    assert unnamed.status_code == 422 and "failure budget names at least one" in unnamed.text
    sent = send(pilot=json.dumps(PILOT))
    assert sent.status_code == 303
    with session_scope(client.app.state.db) as session:
        row = session.get(SandboxRecord, "SBX-UI-1")
        row.jobs_ended, row.jobs_failed, row.jobs_fallen_back, row.failed_spend = 5, 2, 1, Decimal("3.20")
        session.add(row)
    shown = client.get("/ui/sandboxes/SBX-UI-1").text
    assert "Show &lt;b&gt;ibm_brisbane&lt;/b&gt; is worth scaling" in shown  # escaped
    assert "<code>success_rate</code>" in shown and "at most 20.0" in shown
    assert "3 failed jobs; " in shown and "counting failed and cancelled jobs" in shown
    assert "5: 2 failed, 0 cancelled, 1 fell back" in shown and "3.20 USD failed" in shown
    assert "approved without pilot terms" not in shown
