"""The console's audit page, in-process on SQLite and PostgreSQL: the log verified as `govern audit verify`
verifies it (chain, then tree against a checkpoint signed now and one kept from before), the latest
checkpoint shown or its absence said, an edited record found, and exports identical to the API's."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from govern.api import create_app
from govern.audit.checkpoint import generate_key, load_private_key
from govern.audit.tree import signed_checkpoint
from govern.db.database import session_scope
from govern.db.tables import DecisionRecord
from govern.settings import Settings
from tests.api.test_api import example
from tests.console.test_console_session import client, csrf_of, sign_in, token_for

pytestmark = pytest.mark.slow
__all__ = ["client"]


@pytest.fixture
def signed_client(database_url, tmp_path):
    key = tmp_path / "log.key"
    generate_key(key)
    app = create_app(Settings(database_url=database_url, migrate_on_start=True, audit_signing_key=key))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def decide(client, *names: str) -> None:
    submitter = token_for(client, "submitter", "platform-qa")
    for name in names:
        manifest, circuit = example(name)
        answer = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers={"Authorization": f"Bearer {submitter}"})
        assert answer.status_code == 200, answer.text


def verified(client, kept: str = ""):
    page = client.get("/ui/audit")
    return client.post("/ui/audit/verify", data={"csrf_token": csrf_of(page.text), "checkpoint": kept})


def note_of(page: str) -> str:
    return unescape(re.search(r'<pre class="note" id="checkpoint">(.*?)</pre>', page, re.S).group(1))


def test_compliance_verifies_the_log_without_a_signing_key(client):
    decide(client, "bell-local", "unknown-backend")
    sign_in(client, token_for(client, "compliance", "audit"))
    page = client.get("/ui/audit")
    assert page.status_code == 200 and "no GOVERN_AUDIT_SIGNING_KEY" in page.text and "Verify the log" in page.text
    assert client.post("/ui/audit/verify", data={}).status_code == 403  # no CSRF token
    result = verified(client)
    with session_scope(client.app.state.db) as session:
        head = session.exec(select(DecisionRecord.hash).where(DecisionRecord.seq == 2)).one()
    assert result.status_code == 200 and "The decision log verified: 2 records" in result.text and head in result.text
    refused = verified(client, "anything")
    assert refused.status_code == 422 and "no signing key" in refused.text


def test_an_edited_record_is_named(client):
    decide(client, "bell-local", "unknown-backend", "bell-local")
    with session_scope(client.app.state.db) as session:
        session.exec(select(DecisionRecord).where(DecisionRecord.seq == 2)).one().team = "someone-else"
    sign_in(client, token_for(client, "compliance", "audit"))
    result = verified(client)
    assert "NOT intact after 1 good records" in result.text and "record 2 was edited" in result.text


def test_the_tree_is_checked_against_the_checkpoint_signed_now_and_one_kept(signed_client):
    client = signed_client
    decide(client, "bell-local")
    sign_in(client, token_for(client, "compliance", "audit"))
    kept = note_of(client.get("/ui/audit").text)
    assert kept.splitlines()[1] == "1"  # origin, tree size, root hash, then the signature
    decide(client, "unknown-backend")
    result = verified(client)
    assert "The decision log verified: 2 records" in result.text and "It matches the checkpoint signed now (2 records): 0 appended since" in result.text
    assert note_of(result.text).splitlines()[1] == "2"
    against = verified(client, kept.replace("\n", "\r\n"))  # as a browser sends a textarea
    assert "It matches the checkpoint you gave (1 records): 1 appended since" in against.text
    other_key = client.app.state.settings.audit_signing_key.with_name("other.key")
    generate_key(other_key)
    with session_scope(client.app.state.db) as session:
        forged, _ = signed_checkpoint(session, client.app.state.settings.audit_log_origin, load_private_key(other_key))
    refused = verified(client, forged)
    assert refused.status_code == 200 and "NOT intact" in refused.text and "is NOT valid" in refused.text
    assert verified(client, "not a checkpoint").status_code == 422
    assert verified(client, "x" * 70_000).status_code == 413


def test_exports_are_the_apis_with_the_pages_filters(client):
    decide(client, "bell-local", "unknown-backend", "bell-local")
    compliance = token_for(client, "compliance", "audit")
    sign_in(client, compliance)
    page = client.get("/ui/audit?team=platform-qa&outcome=denied&rule=SEC-008&since=2020-01-01T00:00")
    link = unescape(re.search(r'id="export-csv" href="([^"]+)"', page.text).group(1))
    assert link == "/ui/audit/export?format=csv&team=platform-qa&outcome=denied&rule=SEC-008&since=2020-01-01T00%3A00"
    for export_format in ("csv", "jsonl"):
        ours = client.get(link.replace("format=csv", f"format={export_format}"))
        theirs = client.get("/v1/audit/decisions", params={"format": export_format, "team": "platform-qa", "outcome": "denied",
                            "rule": "SEC-008", "since": "2020-01-01T00:00"}, headers={"Authorization": f"Bearer {compliance}"})
        assert ours.status_code == 200 and ours.content == theirs.content and ours.content
        assert ours.headers["content-disposition"] == f'attachment; filename="decisions.{export_format}"'
    assert len(client.get("/ui/audit/export?format=csv").text.strip().splitlines()) == 4  # the header and three records
    assert client.get("/ui/audit/export?format=xml").status_code == 422
    assert client.get("/ui/audit?since=yesterday").status_code == 422


def test_only_audit_readers_open_the_page_or_export(client):
    sign_in(client, token_for(client, "submitter", "platform-qa"))
    assert client.get("/ui/audit").status_code == 403
    assert client.get("/ui/audit/export?format=csv").status_code == 403
    page = client.get("/ui/decisions")
    assert client.post("/ui/audit/verify", data={"csrf_token": csrf_of(page.text)}).status_code == 403
    assert 'href="/ui/audit"' not in page.text
