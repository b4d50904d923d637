"""Which transport the service's lineage client uses, decided by the real openlineage-python client's own
configuration: a transport configured anywhere the client looks wins; configuration without a transport
(facets only) leaves events in govern's own store, as no configuration at all does."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from sqlmodel import Session

from govern.db.database import session_scope
from govern.lineage import outbox
from govern.lineage.delivery import Deliverer, lineage_client
from govern.lineage.store import query
from tests.lineage.test_lineage_delivery import RunState, delivered_lines, run_event

pytestmark = pytest.mark.slow


@pytest.fixture
def clean_openlineage_environment(monkeypatch, tmp_path):
    """No OpenLineage variables, no openlineage.yml in the working folder or under HOME."""
    for name in [name for name in os.environ if name.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path / "cwd"


def deliver_one(database) -> tuple[str, int]:
    run_id = str(uuid.uuid4())
    with session_scope(database) as session:
        outbox.enqueue(session, run_event(run_id, RunState.START))
    delivered = Deliverer(database, lineage_client(database)).deliver_pending().delivered
    return run_id, delivered


def stored_run_ids(database) -> list[str]:
    with Session(database) as session:
        return [json.loads(payload)["run"]["runId"] for payload in query.events(session)]


def test_facets_only_in_the_environment_deliver_into_the_store(database, clean_openlineage_environment, monkeypatch, capsys):
    monkeypatch.setenv("OPENLINEAGE__FACETS__ENVIRONMENT_VARIABLES", '["GOVERN_TEAM"]')
    run_id, delivered = deliver_one(database)
    assert delivered == 1
    assert run_id in stored_run_ids(database)
    assert run_id not in capsys.readouterr().out


def test_a_file_with_only_facets_delivers_into_the_store(database, clean_openlineage_environment):
    (clean_openlineage_environment / "openlineage.yml").write_text("facets:\n  environment_variables: [GOVERN_TEAM]\n")
    run_id, _ = deliver_one(database)
    assert run_id in stored_run_ids(database)


def test_no_configuration_delivers_into_the_store(database, clean_openlineage_environment):
    run_id, _ = deliver_one(database)
    assert run_id in stored_run_ids(database)


def test_a_transport_in_the_environment_is_used_beside_facets(database, clean_openlineage_environment, monkeypatch, tmp_path):
    sink = tmp_path / "events.jsonl"
    monkeypatch.setenv("OPENLINEAGE__FACETS__ENVIRONMENT_VARIABLES", '["GOVERN_TEAM"]')
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(sink))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    run_id, delivered = deliver_one(database)
    assert delivered == 1
    assert [event["run"]["runId"] for event in delivered_lines(sink)] == [run_id]
    assert run_id not in stored_run_ids(database)


def test_a_transport_in_openlineage_yml_is_used(database, clean_openlineage_environment, tmp_path):
    sink = tmp_path / "events.jsonl"
    (clean_openlineage_environment / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {sink}\n  append: true\nfacets:\n  environment_variables: [GOVERN_TEAM]\n"
    )
    run_id, _ = deliver_one(database)
    assert [event["run"]["runId"] for event in delivered_lines(sink)] == [run_id]
    assert run_id not in stored_run_ids(database)
