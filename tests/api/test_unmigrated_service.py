"""`govern serve` on a database that was never migrated: not ready, saying why and what to run, said once;
and a SQLite file that does not exist is not created unless migrating."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from govern.db.database import create_db_engine, head_revision, upgrade
from tests.live_service import free_port, wait_for

pytestmark = pytest.mark.slow

ADVICE = "run `govern db upgrade` or start with `--migrate`"


def serve_without_migrating(database_url: str, log_path, port: int) -> subprocess.Popen:
    environment = {**os.environ, "GOVERN_DATABASE_URL": database_url, "GOVERN_LINEAGE_POLL_S": "0.1", "GOVERN_WORKER_POLL_S": "0.1"}
    environment.pop("GOVERN_MIGRATE_ON_START", None)
    with open(log_path, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "govern", "serve", "--port", str(port), "--workers", "1", "--with-worker"],
                                env=environment, stdout=log, stderr=subprocess.STDOUT)


def readiness(url: str) -> httpx.Response | None:
    try:
        return httpx.get(f"{url}/readyz", timeout=5)
    except httpx.TransportError:
        return None


def test_a_missing_sqlite_file_is_not_created_without_migrating(tmp_path):
    database = tmp_path / "never-made.db"
    finished = subprocess.run([sys.executable, "-m", "govern", "serve", "--port", str(free_port())],
                              env={**os.environ, "GOVERN_DATABASE_URL": f"sqlite:///{database}"}, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 2, finished.stdout + finished.stderr
    message = " ".join(finished.stderr.split())
    assert f"no database at {database}" in message and ADVICE in message and "Traceback" not in message
    assert not database.exists()


def test_an_unmigrated_database_is_not_ready_says_why_once_and_becomes_ready_once_migrated(database_url, tmp_path):
    engine = create_db_engine(database_url)
    if database_url.startswith("sqlite"):
        engine.connect().close()  # an empty SQLite file: the database exists, its schema does not
    expected = f"not ready: schema at revision none, this version needs {head_revision(engine)}; {ADVICE}"
    port, log_path = free_port(), tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    process = serve_without_migrating(database_url, log_path, port)
    try:
        answer = wait_for(lambda: readiness(url), what="govern serve to answer")
        assert answer.status_code == 503 and answer.json()["detail"] == expected
        policy = httpx.get(f"{url}/v1/policy", headers={"Authorization": "Bearer nothing"}, timeout=5)
        assert policy.status_code == 503 and policy.json()["detail"] == expected
        for _ in range(10):  # the deliverer and the worker poll every 0.1 s meanwhile
            assert readiness(url).status_code == 503
        upgrade(engine)
        assert wait_for(lambda: (readiness(url) or httpx.Response(0)).status_code == 200, what="readiness after the upgrade")
    finally:
        process.terminate()
        process.wait(timeout=30)
        engine.dispose()
    log = log_path.read_text()
    assert log.count(expected) == 1, log
    assert "Traceback" not in log and "no such table" not in log and "UndefinedTable" not in log, log


def test_a_database_behind_names_its_revision(postgres_admin, tmp_path):
    from benchmarks.scratch import scratch_database

    with scratch_database(postgres_admin.render_as_string(hide_password=False), "govern_test") as database_url:
        engine = create_db_engine(database_url)
        upgrade(engine, "0005")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = serve_without_migrating(database_url, tmp_path / "serve.log", port)
        try:
            answer = wait_for(lambda: readiness(url), what="govern serve to answer")
            assert answer.status_code == 503
            assert answer.json()["detail"] == f"not ready: schema at revision 0005, this version needs {head_revision(engine)}; {ADVICE}"
        finally:
            process.terminate()
            process.wait(timeout=30)
            engine.dispose()


def test_a_worker_on_an_unmigrated_database_exits_two_saying_what_to_run(cli, tmp_path, monkeypatch):
    missing = tmp_path / "missing.db"
    monkeypatch.setenv("GOVERN_DATABASE_URL", f"sqlite:///{missing}")
    result = cli("worker", "--once")
    assert result.exit_code == 2 and f"no database at {missing}" in " ".join(result.output.split()) and not missing.exists()
    create_db_engine(f"sqlite:///{missing}").connect().close()
    result = cli("worker", "--once")
    assert result.exit_code == 2 and "not ready: schema at revision none, this version needs" in " ".join(result.output.split())
