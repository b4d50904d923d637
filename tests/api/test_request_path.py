"""The request path under load: read-only work reads through read-only transactions, and each process bounds
the requests it works on at once."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from govern.api import create_app
from govern.db.database import create_db_engine, reading, upgrade
from govern.settings import Settings
from tests.admission.test_submissions_api import funded, vqe_body
from tests.live_service import running_service

pytestmark = pytest.mark.slow

CONTEXT_TABLES = ("vendors", "sandboxes", "waivers", "api_tokens")


def reads_by_transaction_kind(client: TestClient, path: str, body: dict, headers: dict) -> dict[str, set[bool]]:
    """For each live-context or token table, whether the statements that read it ran on a read-only connection."""
    seen: dict[str, set[bool]] = {}

    def record(connection, _cursor, statement: str, *_args) -> None:
        for table in CONTEXT_TABLES:
            if re.search(rf"\b(FROM|JOIN) {table}\b", statement) and statement.lstrip().upper().startswith("SELECT"):
                options = connection.get_execution_options()
                read_only = options.get("postgresql_readonly", False) and options.get("sqlite_begin") == "DEFERRED"
                seen.setdefault(table, set()).add(read_only)

    event.listen(client.app.state.db, "before_cursor_execute", record)
    try:
        response = client.post(path, json=body, headers=headers)
    finally:
        event.remove(client.app.state.db, "before_cursor_execute", record)
    assert response.status_code in (200, 201), response.text
    return seen


@pytest.mark.parametrize("path", ["/v1/check", "/v1/submissions"])
def test_checks_and_submissions_read_their_context_and_token_read_only(database_url, path):
    """A check writes nothing but its log record, and a submission decides before it writes: their live
    context and the token lookup take no write lock (SQLite) and run READ ONLY (PostgreSQL)."""
    settings = Settings(database_url=database_url, migrate_on_start=True, token_cache_s=0)
    with TestClient(create_app(settings)) as client:
        headers = funded(client, "1000.00")
        seen = reads_by_transaction_kind(client, path, vqe_body(), headers)
    assert seen == {table: {True} for table in CONTEXT_TABLES}


def test_a_read_only_session_refuses_writes_on_postgresql(postgres_admin):
    database = create_db_engine(postgres_admin.render_as_string(hide_password=False))
    try:
        with Session(reading(database)) as session:
            assert session.execute(text("SHOW transaction_read_only")).scalar() == "on"
            with pytest.raises(DBAPIError, match="read-only transaction"):
                session.execute(text("CREATE TEMPORARY TABLE scratch (id integer)"))
        with Session(database) as session:  # the connection goes back to the pool writable
            assert session.execute(text("SHOW transaction_read_only")).scalar() == "off"
    finally:
        database.dispose()


def test_a_read_only_session_reads_while_sqlite_is_locked_by_a_writer(tmp_path):
    """A writer holding SQLite's write lock does not hold up a read: without deferred reads, a check would
    wait for every writer (busy_timeout) before it could read its context."""
    path = tmp_path / "govern.db"
    database = create_db_engine(f"sqlite:///{path}")
    upgrade(database)
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        with Session(reading(database)) as session:
            assert session.execute(text("SELECT count(*) FROM sandboxes")).scalar() == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        database.dispose()


def test_each_process_works_on_at_most_request_threads_requests_at_once(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'govern.db'}", migrate_on_start=True, request_threads=3)
    with TestClient(create_app(settings)) as client:
        assert client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens) == 3


def test_more_clients_than_threads_and_connections_all_get_answers(tmp_path):
    """Every request looks its token up (no cache) and 24 arrive at once at a process with 2 threads and 15
    database connections: a lookup that kept its connection while its request waited for a thread would
    leave every thread waiting for a connection until the pool timed out (500s after 30 s)."""
    env = {"GOVERN_REQUEST_THREADS": "2", "GOVERN_TOKEN_CACHE_S": "0"}
    database_url = f"sqlite:///{tmp_path / 'govern.db'}"
    with running_service(database_url, env=env) as url:
        created = subprocess.run([sys.executable, "-m", "govern", "token", "create", "--role", "submitter", "--team", "materials-rnd"],
                                 env={**os.environ, "GOVERN_DATABASE_URL": database_url}, capture_output=True, text=True, check=True)
        headers, body = {"Authorization": f"Bearer {created.stdout.strip()}"}, vqe_body()
        barrier = threading.Barrier(24)

        def check(_: int) -> int:
            barrier.wait()
            return httpx.post(f"{url}/v1/check", json=body, headers=headers, timeout=60).status_code

        with ThreadPoolExecutor(24) as pool:
            statuses = list(pool.map(check, range(24)))
    assert statuses == [200] * 24
