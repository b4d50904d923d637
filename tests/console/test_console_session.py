"""The console's sign-in, session, CSRF and headers, in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from govern.api import create_app
from govern.console.headers import CONTENT_SECURITY_POLICY
from govern.console.sessions import COOKIE
from govern.db.database import session_scope
from govern.db.public import TokenCreate
from govern.db.tables import ConsoleSessionRecord
from govern.records.tokens import authenticate, create_token, revoke_token
from govern.settings import Settings
from tests.api.test_api import example

pytestmark = pytest.mark.slow


@pytest.fixture
def client(database_url):
    app = create_app(Settings(database_url=database_url, migrate_on_start=True))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def token_for(client, role: str, team: str) -> str:
    with session_scope(client.app.state.db) as session:
        _, secret = create_token(session, TokenCreate(role=role, team=team, name=f"{role}-user"))
    return secret


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, secret: str, next_path: str = "") -> object:
    form = client.get("/ui/login" + (f"?next={next_path}" if next_path else ""))
    return client.post("/ui/login", data={"token": secret, "csrf_token": csrf_of(form.text), "next": next_path or "/ui/decisions"}, follow_redirects=False)


def test_a_page_sends_the_browser_to_sign_in_and_back(client):
    page = client.get("/ui/decisions?outcome=denied", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/ui/login?next=%2Fui%2Fdecisions%3Foutcome%3Ddenied"
    secret = token_for(client, "compliance", "audit")
    signed = sign_in(client, secret, "/ui/decisions?outcome=denied")
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/decisions?outcome=denied"
    cookie = signed.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert secret not in cookie
    page = client.get("/ui/decisions?outcome=denied")
    assert page.status_code == 200 and "Decisions" in page.text and secret not in page.text


def test_only_console_paths_are_followed_after_sign_in(client):
    secret = token_for(client, "compliance", "audit")
    for target in ("https://evil.example/", "//evil.example/ui/", "/v1/kpis", "/ui\\..\\x"):
        assert sign_in(client, secret, target).headers["location"] == "/ui/decisions"


def test_wrong_tokens_and_forged_forms_are_refused(client):
    form = client.get("/ui/login")
    refused = client.post("/ui/login", data={"token": "gov_unknown", "csrf_token": csrf_of(form.text)})
    assert refused.status_code == 401 and "Unknown or revoked token" in refused.text
    client.cookies.clear()
    forged = client.post("/ui/login", data={"token": token_for(client, "compliance", "audit"), "csrf_token": "guess"})
    assert forged.status_code == 403
    producer = token_for(client, "producer", "lake")
    assert sign_in(client, producer).status_code == 403


def test_state_changing_requests_need_the_sessions_csrf_token(client):
    sign_in(client, token_for(client, "compliance", "audit"))
    assert client.post("/ui/logout", data={}).status_code == 403
    assert client.post("/ui/logout", data={"csrf_token": "stale"}).status_code == 403
    page = client.get("/ui/decisions")
    out = client.post("/ui/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert client.get("/ui/decisions", follow_redirects=False).status_code == 303


def test_idle_revoked_and_expired_sessions_end(client):
    secret = token_for(client, "compliance", "audit")
    sign_in(client, secret)
    with session_scope(client.app.state.db) as session:
        row = session.exec(select(ConsoleSessionRecord)).one()
        row.last_seen_at = datetime.now(UTC) - timedelta(hours=1)
    assert client.get("/ui/decisions", follow_redirects=False).status_code == 303
    sign_in(client, secret)
    with session_scope(client.app.state.db) as session:
        revoke_token(session, authenticate(session, secret).id)
    assert client.get("/ui/decisions", follow_redirects=False).status_code == 303
    with session_scope(client.app.state.db) as session:
        assert session.exec(select(ConsoleSessionRecord)).all() == []


def test_every_console_response_carries_the_security_headers(client):
    for path in ("/ui/login", "/ui/static/console.css"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
        assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/ui/login").headers["cache-control"] == "no-store"
    assert "<script>" not in client.get("/ui/login").text


def test_submitters_see_their_team_and_follow_a_denial_to_its_remediation(client):
    submitter = token_for(client, "submitter", "platform-qa")
    manifest, circuit = example("unknown-backend")
    decided = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers={"Authorization": f"Bearer {submitter}"}).json()
    other = token_for(client, "submitter", "quantum-finance")
    sign_in(client, other)
    assert decided["decision"]["decision_id"] not in client.get("/ui/decisions").text
    assert client.get(f"/ui/decisions/{decided['decision']['decision_id']}").status_code == 403
    assert client.get("/ui/decisions?team=platform-qa").status_code == 403
    client.cookies.clear()
    sign_in(client, submitter)
    listing = client.get("/ui/decisions?outcome=denied&rule=SEC-008")
    assert decided["decision"]["decision_id"] in listing.text
    detail = client.get(f"/ui/decisions/{decided['decision']['decision_id']}")
    assert detail.status_code == 200 and "SEC-008" in detail.text and "Remediation" in detail.text
    assert "Verify this record" not in detail.text  # proofs are for audit.read, as in the API


def test_bad_filters_are_a_page_not_a_traceback(client):
    sign_in(client, token_for(client, "compliance", "audit"))
    bad = client.get("/ui/decisions?since=yesterday&limit=100000")
    assert bad.status_code == 422 and "since" in bad.text and "<html" in bad.text
    assert client.get("/ui/decisions/" + "x" * 65).status_code == 422
    assert client.get("/ui/decisions/nope").status_code == 404
    assert client.get("/ui/decisions?team=&outcome=&since=").status_code == 200
