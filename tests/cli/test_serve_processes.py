"""How many server processes `govern serve` starts, and which app each runs (uvicorn itself is not started)."""

from __future__ import annotations

import os

import pytest

from govern.cli.service import default_server_processes
from tests.cli.test_cli import flat

UNREACHABLE_POSTGRES = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # serve connects only when migrating


def test_postgresql_gets_one_process_per_core_this_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "process_cpu_count", lambda: 7, raising=False)
    assert default_server_processes("postgresql") == 7
    monkeypatch.delattr(os, "process_cpu_count")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 3, 5}, raising=False)
    assert default_server_processes("postgresql") == 3
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert default_server_processes("postgresql") == 1


def test_sqlite_gets_one_process_however_many_cores(monkeypatch):
    monkeypatch.setattr(os, "process_cpu_count", lambda: 16, raising=False)
    assert default_server_processes("sqlite") == 1


@pytest.fixture
def started(monkeypatch):
    """What `govern serve` would hand uvicorn: the app (an import string for several processes) and the count."""
    calls: list[tuple[object, int]] = []
    monkeypatch.setattr("govern.api.server.serve", lambda app, *, workers, **_: calls.append((app, workers)))
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)
    return calls


def test_serve_on_postgresql_starts_a_process_per_core_each_with_its_worker_when_asked(cli, monkeypatch, started):
    monkeypatch.setenv("GOVERN_DATABASE_URL", UNREACHABLE_POSTGRES)
    assert cli("serve").exit_code == 0
    assert cli("serve", "--with-worker").exit_code == 0
    assert cli("serve", "--workers", "1").exit_code == 0
    assert [(app if isinstance(app, str) else "app", workers) for app, workers in started] == [
        ("govern.api:create_app", 3), ("govern.api:create_app_with_worker", 3), ("app", 1),
    ]


def test_serve_on_sqlite_starts_one_process_and_refuses_several(cli, monkeypatch, tmp_path, started):
    database = tmp_path / "govern.db"
    monkeypatch.setenv("GOVERN_DATABASE_URL", f"sqlite:///{database}")
    refused = cli("serve", "--workers", "2")
    assert refused.exit_code == 2 and "SQLite takes one server process" in flat(refused) and not database.exists()
    assert cli("serve", "--migrate", "--with-worker").exit_code == 0
    assert [workers for _, workers in started] == [1]


def test_the_metrics_directory_variable_is_unset_again_when_serving_ends(monkeypatch):
    """The launcher sets PROMETHEUS_MULTIPROC_DIR for its server processes only: left set, every later app in
    the process would run in multiprocess mode, without its process metrics."""
    from govern.api.metrics import MULTIPROCESS_DIR_VARIABLE
    from govern.cli.service import shared_metrics_dir

    monkeypatch.delenv(MULTIPROCESS_DIR_VARIABLE, raising=False)
    with shared_metrics_dir():
        assert os.path.isdir(os.environ[MULTIPROCESS_DIR_VARIABLE])
    assert MULTIPROCESS_DIR_VARIABLE not in os.environ
