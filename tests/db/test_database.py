"""The service database on SQLite and on the machine's real PostgreSQL: migrations and API tokens."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from govern.db.database import create_db_engine, current_revision, head_revision, session_scope, upgrade
from govern.db.public import TokenCreate
from govern.db.tables import Role
from govern.records.tokens import authenticate, create_token, list_tokens, revoke_token


@pytest.mark.slow
def test_migrations_create_the_schema_and_are_idempotent(database_url):
    engine = create_db_engine(database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()


@pytest.mark.slow
def test_token_lifecycle_stores_only_a_hash(database_url):
    engine = create_db_engine(database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        token, secret = create_token(session, TokenCreate(role="compliance", team="audit", name="quarterly"))
    assert secret.startswith("gov_") and len(secret) > 40
    with session_scope(engine) as session:
        assert authenticate(session, secret).role is Role.COMPLIANCE
        assert authenticate(session, secret + "x") is None
        assert [t.id for t in list_tokens(session, "audit")] == [token.id]
        assert list_tokens(session, "other") == []
    with engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(text("SELECT * FROM api_tokens")) for v in row)
    assert secret not in stored
    with session_scope(engine) as session:
        assert revoke_token(session, token.id).revoked_at is not None
        assert revoke_token(session, uuid.uuid4()) is None
    with session_scope(engine) as session:
        assert authenticate(session, secret) is None
    engine.dispose()


@pytest.mark.slow
def test_token_commands(cli, database_url, monkeypatch):
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    assert cli("db", "upgrade").exit_code == 0
    current = cli("db", "current").output
    assert current.startswith("current: ") and current.split(",")[0].split(": ")[1] == current.strip().split("head: ")[1]
    created = cli("token", "create", "--role", "submitter", "--team", "materials-rnd", "--name", "ci")
    assert created.exit_code == 0
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("gov_")
    listed = cli("token", "list")
    assert "materials-rnd" in listed.output and secret not in listed.output
    engine = create_db_engine(database_url)
    with session_scope(engine) as session:
        (token,) = list_tokens(session)
    engine.dispose()
    assert cli("token", "revoke", str(token.id)).exit_code == 0
    assert cli("token", "revoke", str(uuid.uuid4())).exit_code == 2


def test_bad_token_requests_and_unreachable_databases_exit_two(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("GOVERN_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    bad = cli("token", "create", "--role", "boss", "--team", "Not A Team")
    assert bad.exit_code == 2 and "--role" in bad.output and "[a-z0-9]" in bad.output
    assert cli("token", "list").exit_code == 2  # no schema yet
    monkeypatch.setenv("GOVERN_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    result = cli("db", "upgrade")
    assert result.exit_code == 2 and "database error" in result.output
    monkeypatch.setenv("GOVERN_DATABASE_URL", "not a url")
    assert cli("db", "current").exit_code == 2
