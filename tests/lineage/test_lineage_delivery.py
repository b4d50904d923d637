"""The lineage outbox and its deliverer on SQLite and PostgreSQL, through real openlineage-python transports:
committed events are delivered at least once and in order per run; a backend that is down only delays them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
from openlineage.client.facet_v2 import tags_run
from openlineage.client.serde import Serde
from sqlalchemy import update
from sqlmodel import Session, select

from govern.api import create_app
from govern.db.database import session_scope
from govern.db.tables import LineageOutboxEntry
from govern.lineage import outbox
from govern.lineage.delivery import Deliverer, DeliveryPass
from govern.lineage.store import query
from govern.lineage.transport import StoreConfig, StoreTransport
from govern.settings import Settings
from tests.api.test_api import auth, token_for
from tests.live_service import free_port

PRODUCER = "https://github.com/govern-dev/govern"


def run_event(run_id: str, state: RunState, name: str = "bell-local") -> RunEvent:
    return RunEvent(eventType=state, eventTime=datetime.now(UTC).isoformat(), run=Run(runId=run_id),
                    job=Job(namespace="govern.platform-qa", name=name), producer=PRODUCER)


def file_client(path) -> OpenLineageClient:
    return OpenLineageClient(config={"transport": {"type": "file", "log_file_path": str(path), "append": True}})


def unreachable_client() -> OpenLineageClient:
    return OpenLineageClient(config={"transport": {
        "type": "http", "url": f"http://127.0.0.1:{free_port()}", "timeout": 1, "retry": {"total": 0},
    }})


def delivered_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_only_committed_events_are_delivered_in_order(database, tmp_path):
    run_id = str(uuid.uuid4())
    with session_scope(database) as session:
        outbox.enqueue(session, run_event(run_id, RunState.START))
        outbox.enqueue(session, run_event(run_id, RunState.COMPLETE))
    with pytest.raises(RuntimeError), session_scope(database) as session:
        outbox.enqueue(session, run_event(str(uuid.uuid4()), RunState.START))
        raise RuntimeError("the state change failed: its event must vanish with it")

    sink = tmp_path / "events.jsonl"
    deliverer = Deliverer(database, file_client(sink))
    assert deliverer.deliver_pending().delivered == 2
    assert [(e["run"]["runId"], e["eventType"]) for e in delivered_lines(sink)] == [(run_id, "START"), (run_id, "COMPLETE")]
    assert deliverer.deliver_pending().delivered == 0
    with Session(database) as session:
        assert outbox.backlog(session).pending == 0 and outbox.backlog(session).delivered == 2


@pytest.mark.slow
def test_a_backend_that_is_down_delays_events_and_loses_none(database, tmp_path):
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    with session_scope(database) as session:
        for run_id in (first, second):
            outbox.enqueue(session, run_event(run_id, RunState.START))
            outbox.enqueue(session, run_event(run_id, RunState.COMPLETE))

    down = Deliverer(database, unreachable_client(), first_retry_s=60, failures_per_pass=2)
    attempt = down.deliver_pending()
    assert (attempt.delivered, attempt.failed) == (0, 2)
    with Session(database) as session:
        backlog = outbox.backlog(session)
        assert (backlog.pending, backlog.failing) == (4, 2)
        assert "ConnectionError" in backlog.last_error
        retry_at = min(row.next_attempt_at for row in session.exec(select(LineageOutboxEntry)).all() if row.attempts)
    assert retry_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(seconds=50)

    sink = tmp_path / "events.jsonl"
    back = Deliverer(database, file_client(sink))
    held = back.deliver_pending()
    assert (held.delivered, held.waiting) == (0, 4)  # in back-off, and nothing overtakes a run's first event

    with session_scope(database) as session:
        session.exec(update(LineageOutboxEntry).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert back.deliver_pending().delivered == 4
    events = [(e["run"]["runId"], e["eventType"]) for e in delivered_lines(sink)]
    for run_id in (first, second):
        assert [state for rid, state in events if rid == run_id] == ["START", "COMPLETE"]
    with Session(database) as session:
        assert outbox.backlog(session).pending == 0


@pytest.mark.slow
def test_one_deliverer_at_a_time(database, tmp_path):
    with session_scope(database) as session:
        outbox.enqueue(session, run_event(str(uuid.uuid4()), RunState.START))
    sink = tmp_path / "events.jsonl"
    first, second = Deliverer(database, file_client(sink)), Deliverer(database, file_client(sink))
    with first._exclusive() as acquired:
        assert acquired
        if database.dialect.name == "postgresql":  # across processes only PostgreSQL can tell
            assert second.deliver_pending().delivered == 0
    assert second.deliver_pending().delivered == 1
    assert len(delivered_lines(sink)) == 1


def test_stored_events_round_trip_through_the_client_unchanged(tmp_path):
    event = run_event(str(uuid.uuid4()), RunState.START)
    text = Serde.to_json(event)
    assert Serde.to_json(outbox.stored_event(text)) == text


def test_a_tagged_event_is_delivered_with_its_tags_and_the_clients(tmp_path):
    """The client merges its own tags into a `tags` facet on emit, so a stored one must come back typed."""
    tags = tags_run.TagsRunFacet(tags=[tags_run.TagsRunFacetFields(key="govern.jobKind", value="baseline", source="govern")], producer=PRODUCER)
    event = run_event(str(uuid.uuid4()), RunState.START)
    event = RunEvent(eventType=event.eventType, eventTime=event.eventTime, run=Run(runId=event.run.runId, facets={"tags": tags}),
                     job=event.job, producer=PRODUCER)
    text = Serde.to_json(event)
    assert Serde.to_json(outbox.stored_event(text)) == text
    sink = tmp_path / "events.jsonl"
    file_client(sink).emit(outbox.stored_event(text))
    (delivered,) = delivered_lines(sink)
    assert [(tag["key"], tag["source"]) for tag in delivered["run"]["facets"]["tags"]["tags"]] == [
        ("govern.jobKind", "govern"), ("openlineage_client_version", "OPENLINEAGE_CLIENT")]
    assert delivered["run"]["facets"]["tags"]["_producer"] == PRODUCER


@pytest.mark.slow
def test_an_event_that_keeps_failing_is_parked_and_stops_holding_its_run(database, database_url):
    """A 400-byte dataset namespace (written before the manifest refused one) can never be stored: after
    `max_attempts` it is parked with its error, shows in the status API, and the run's later events flow."""
    run_id = str(uuid.uuid4())
    undeliverable = run_event(run_id, RunState.START)
    undeliverable.inputs.append(InputDataset(namespace="é" * 200, name="x"))
    with session_scope(database) as session:
        outbox.enqueue(session, undeliverable)
        outbox.enqueue(session, run_event(run_id, RunState.COMPLETE))
    deliverer = Deliverer(database, OpenLineageClient(transport=StoreTransport(StoreConfig(), database=database)), first_retry_s=0, max_attempts=2)
    assert deliverer.deliver_pending() == DeliveryPass(delivered=0, failed=1, waiting=1)
    assert deliverer.deliver_pending() == DeliveryPass(delivered=0, failed=1, waiting=1)  # parked now
    assert deliverer.deliver_pending() == DeliveryPass(delivered=1, failed=0, waiting=0)
    assert deliverer.deliver_pending() == DeliveryPass(delivered=0, failed=0, waiting=0)

    with Session(database) as session:
        backlog = outbox.backlog(session)
        assert (backlog.pending, backlog.failing, backlog.delivered, backlog.parked) == (0, 0, 1, 1)
        assert query.run_upstream(session, run_id, None)["run"]["state"] == "COMPLETE"
    app = create_app(Settings(database_url=database_url, lineage_delivery=False))
    with TestClient(app) as client:
        status = client.get("/v1/lineage/outbox", headers=auth(token_for(client, "compliance", "audit"))).json()
    assert status["parked"] == 1 and status["pending"] == 0
    (parked,) = status["parkedEvents"]
    assert (parked["runId"], parked["eventType"], parked["attempts"]) == (run_id, "START", 2)
    assert "inputs[0].namespace is longer than 255 bytes" in parked["error"]
