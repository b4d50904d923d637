"""The console's waivers page, in-process on SQLite and PostgreSQL: only waivable rules offered, a request
filed through the API's path, approve and revoke as CSRF-checked posts, separation of duties shown, expired
waivers marked, pages by cursor, and every bad input a 4xx page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from govern.db.database import session_scope
from govern.db.public import WaiverRequest
from govern.db.tables import ApiToken, WaiverRecord
from govern.records.waivers import request_waiver
from tests.console.test_console_session import client, csrf_of, sign_in, token_for

pytestmark = pytest.mark.slow
__all__ = ["client"]

REASON = "DPO sign-off DPO-2026-200 for on-prem use"


def in_a_month() -> str:
    return (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")


def request_form(page: str, **changes: str) -> dict[str, str]:
    form = {"csrf_token": csrf_of(page), "rule": "DC-003", "team": "materials-rnd", "experiment": "*", "sandbox": "*",
            "reason": REASON, "expires": in_a_month()}
    return {**form, **changes}


def recorded(client, team: str, requested_by: str, rule: str = "DC-003") -> str:
    """A waiver filed straight through the records, as if by `requested_by`."""
    body = WaiverRequest(rule=rule, team=team, reason=REASON, expires=datetime.now(UTC) + timedelta(days=30))
    with session_scope(client.app.state.db) as session:
        return request_waiver(session, body, requested_by, client.app.state.engine.catalogue).id


def token_id(client, name: str) -> str:
    with session_scope(client.app.state.db) as session:
        return str(session.exec(select(ApiToken.id).where(ApiToken.name == name)).one())


def row_of(page: str, waiver_id: str) -> str:
    start = page.index(f'<tr id="{waiver_id}"')
    return page[start:page.index("</tr>", start)]


def test_a_team_requests_only_waivable_rules_and_compliance_approves_then_revokes(client):
    sign_in(client, token_for(client, "submitter", "materials-rnd"))
    page = client.get("/ui/waivers")
    assert page.status_code == 200 and 'value="DC-003"' in page.text
    catalogue = client.app.state.engine.catalogue
    offered = set(re.findall(r'<option value="([A-Z]+-\d+)"', page.text))
    assert offered == {rule for rule, entry in catalogue.items() if entry.get("waivable") is True}
    assert "DC-001" not in offered and catalogue["DC-001"]["waivable"] is False
    filed = client.post("/ui/waivers", data=request_form(page.text), follow_redirects=False)
    assert filed.status_code == 303 and filed.headers["location"].startswith("/ui/waivers?team=materials-rnd&done=requested#WVR-")
    waiver_id = filed.headers["location"].rsplit("#", 1)[1]
    listed = client.get(filed.headers["location"])
    assert "Waiver requested" in listed.text and waiver_id in listed.text and 'class="state requested"' in listed.text
    assert f"/ui/waivers/{waiver_id}/approve" not in listed.text  # a submitter may not approve at all: no button
    assert client.post(f"/ui/waivers/{waiver_id}/approve", data={"csrf_token": csrf_of(listed.text)}).status_code == 403

    client.cookies.clear()
    sign_in(client, token_for(client, "compliance", "audit"))
    page = client.get("/ui/waivers?state=requested")
    assert waiver_id in page.text and "Request a waiver" not in page.text  # compliance approves, it does not request
    assert client.post(f"/ui/waivers/{waiver_id}/approve", data={}).status_code == 403  # no CSRF token
    approved = client.post(f"/ui/waivers/{waiver_id}/approve", data={"csrf_token": csrf_of(page.text)})
    assert approved.status_code == 200 and "Waiver approved." in approved.text and "compliance-user" in approved.text
    assert waiver_id in client.get("/ui/waivers?state=approved").text
    assert waiver_id not in client.get("/ui/waivers?state=requested").text
    revoked = client.post(f"/ui/waivers/{waiver_id}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert "Waiver revoked." in revoked.text and 'class="state revoked"' in revoked.text
    again = client.post(f"/ui/waivers/{waiver_id}/approve", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 409 and "is revoked" in again.text


def test_the_requester_sees_why_it_cannot_approve_its_own_waiver(client):
    sign_in(client, token_for(client, "compliance", "audit"))
    own = recorded(client, "materials-rnd", token_id(client, "compliance-user"))
    other = recorded(client, "materials-rnd", "someone-else")
    page = client.get("/ui/waivers")
    assert "disabled" in row_of(page.text, own) and "separation of duties" in row_of(page.text, own)
    assert "disabled" not in row_of(page.text, other)
    assert client.post(f"/ui/waivers/{own}/approve", data={"csrf_token": csrf_of(page.text)}).status_code == 403


def test_teams_see_their_own_waivers_and_expired_ones_are_marked(client):
    mine = recorded(client, "materials-rnd", "someone")
    theirs = recorded(client, "quantum-finance", "someone")
    with session_scope(client.app.state.db) as session:
        session.get(WaiverRecord, mine).expires = datetime.now(UTC) - timedelta(hours=1)
    sign_in(client, token_for(client, "submitter", "materials-rnd"))
    page = client.get("/ui/waivers")
    assert mine in page.text and theirs not in page.text and "expired: no longer applies" in page.text
    assert mine in client.get("/ui/waivers?state=expired").text
    assert mine not in client.get("/ui/waivers?state=requested").text
    assert client.get("/ui/waivers?team=quantum-finance").status_code == 403


def test_waivers_page_by_cursor(client):
    ids = [recorded(client, "materials-rnd", "someone") for _ in range(3)]
    sign_in(client, token_for(client, "compliance", "audit"))
    first = client.get("/ui/waivers?limit=2")
    cursor = re.search(r'rel="next" href="[^"]*cursor=(WVR-[0-9a-f]{12})"', first.text).group(1)
    second = client.get(f"/ui/waivers?limit=2&cursor={cursor}")
    shown = [i for i in ids if i in first.text] + [i for i in ids if i in second.text]
    assert sorted(shown) == sorted(ids) and 'rel="next"' not in second.text


def test_bad_requests_are_pages_with_a_4xx(client):
    sign_in(client, token_for(client, "submitter", "materials-rnd"))
    page = client.get("/ui/waivers").text
    refusals = {
        "DC-001": (request_form(page, rule="DC-001"), 422, "waivable rules"),
        "past": (request_form(page, expires="2020-01-01T00:00"), 422, "expire in the future"),
        "garbage time": (request_form(page, expires="next week"), 422, "expires"),
        "short reason": (request_form(page, reason="because"), 422, "reason"),
        "long experiment": (request_form(page, experiment="x" * 64), 422, "experiment"),
        "other team": (request_form(page, team="quantum-finance"), 403, "own team"),
        "no csrf": (request_form(page, csrf_token=""), 403, "CSRF"),
    }
    for what, (form, status, said) in refusals.items():
        answer = client.post("/ui/waivers", data=form)
        assert (answer.status_code, said in answer.text, "<html" in answer.text) == (status, True, True), what
    assert "No waivers match" in client.get("/ui/waivers").text
    assert client.get("/ui/waivers?state=lapsed").status_code == 422
    assert client.get("/ui/waivers?cursor=nope").status_code == 422
    assert client.get("/ui/waivers?cursor=WVR-000000000000").status_code == 404
    assert client.post("/ui/waivers/../approve", data={"csrf_token": csrf_of(page)}).status_code in (404, 405)
    assert client.post("/ui/waivers/WVR-x/approve", data={"csrf_token": csrf_of(page)}).status_code == 422
    assert client.post("/ui/waivers/WVR-000000000000/revoke", data={"csrf_token": csrf_of(page)}).status_code == 404
