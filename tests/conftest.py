"""Shared fixtures: the shipped bundle compiled once, the examples, and an in-process CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govern.cli import app
from govern.policy.bundle import load_bundle
from govern.policy.engines.embedded import RegorusEngine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES_NOW = "2026-11-24T12:00:00+00:00"
"""The examples' context is dated: sandboxes are time-boxed, so checks pin the evaluation time."""


@pytest.fixture(scope="session")
def bundle():
    return load_bundle()


@pytest.fixture(scope="session")
def engine(bundle):
    engine = RegorusEngine(bundle)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def examples_now() -> datetime:
    return datetime.fromisoformat(EXAMPLES_NOW)


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def example_context():
    from govern.manifest.documents import load_one
    from govern.manifest.schema import Context

    return load_one(EXAMPLES / "context.yaml", Context, "Context", 1_000_000)


@pytest.fixture(scope="session")
def example_inputs(engine, example_context, examples_now):
    """(manifest path, policy input) for every example experiment."""
    from govern.check.checker import Checker
    from govern.manifest.documents import load_documents
    from govern.submission import submission_from_document

    checker = Checker(engine, example_context, now=examples_now)
    inputs = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for document in load_documents(path, 1_000_000):
            if document.kind == "Experiment":
                submission = submission_from_document(document, 1_000_000)
                inputs.append((path, checker.policy_input(submission, checker.profile(submission))))
    return inputs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `postgres` every test that reaches PostgreSQL: through `postgres_admin`, or as the `postgresql`
    case of a database parametrisation (`database_url`, or a fixture of its own built on `fresh_database`)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec else ()
        if "postgres_admin" in getattr(item, "fixturenames", ()) or any(
            isinstance(value, str) and value == "postgresql" for value in params
        ):
            item.add_marker(pytest.mark.postgres)


POSTGRES_ADMIN_URL = os.environ.get("GOVERN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
"""The machine's PostgreSQL (trust auth); each test gets a database of its own, dropped afterwards."""


@pytest.fixture(scope="session")
def postgres_admin():
    """An admin connection URL, or a skip (a failure where CI=true: PostgreSQL tests must run in CI)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_ADMIN_URL)
    try:
        psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname=url.database, connect_timeout=3
        ).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {url.host}:{url.port} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL database."""
    with fresh_database(request, tmp_path) as url:
        yield url


@contextmanager
def fresh_database(request, directory: Path) -> Iterator[str]:
    """A fresh, empty database of the kind `request.param` names: a SQLite file in `directory`, or a new
    PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{directory / 'govern.db'}"
        return
    from benchmarks.scratch import scratch_database

    with scratch_database(request.getfixturevalue("postgres_admin").render_as_string(hide_password=False), "govern_test") as url:
        yield url
