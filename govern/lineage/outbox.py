"""The lineage outbox: an event is added in the same transaction as the state change it describes, so it
is committed exactly when that change is, and a deliverer sends it afterwards (at least once, in order per
run). What is stored is the event's JSON; `stored_event()` rebuilds a client event from it for transports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import tags_job, tags_run
from openlineage.client.serde import Serde
from sqlalchemy import func
from sqlmodel import Session, col, select

from govern.db.tables import LineageOutboxEntry
from govern.records.errors import as_utc


def enqueue(session: Session, event: RunEvent) -> None:
    """Queue the event with the caller's transaction; it is delivered only once that transaction commits."""
    assert event.eventType is not None  # govern's events always say what happened
    session.add(LineageOutboxEntry(run_id=str(event.run.runId), event_type=event.eventType.value, event=Serde.to_json(event)))


Tagged = TypeVar("Tagged", tags_run.TagsRunFacet, tags_job.TagsJobFacet)


def _typed_tags(stored: dict[str, Any], facet: type[Tagged], field: type[Any]) -> Tagged:
    """A stored tags facet as the client's class, with the producer and schema URL it was written with."""
    typed = facet(tags=[field(key=tag["key"], value=tag["value"], source=tag.get("source")) for tag in stored.get("tags", [])])
    typed._producer, typed._schemaURL = stored.get("_producer", typed._producer), stored.get("_schemaURL", typed._schemaURL)
    return typed


def stored_event(text: str) -> RunEvent:
    """The client's RunEvent for stored JSON: facets stay the dictionaries they were serialised to, except the
    `tags` facets, which the client's emit() merges its own tags into and so must be its typed facets."""
    data: dict[str, Any] = json.loads(text)
    run_facets, job_facets = dict(data["run"].get("facets", {})), dict(data["job"].get("facets", {}))
    if "tags" in run_facets:
        run_facets["tags"] = _typed_tags(run_facets["tags"], tags_run.TagsRunFacet, tags_run.TagsRunFacetFields)
    if "tags" in job_facets:
        job_facets["tags"] = _typed_tags(job_facets["tags"], tags_job.TagsJobFacet, tags_job.TagsJobFacetFields)
    return RunEvent(
        eventType=RunState(data["eventType"]),
        eventTime=data["eventTime"],
        run=Run(runId=data["run"]["runId"], facets=run_facets),
        job=Job(namespace=data["job"]["namespace"], name=data["job"]["name"], facets=job_facets),
        inputs=[
            InputDataset(namespace=d["namespace"], name=d["name"], facets=d.get("facets", {}), inputFacets=d.get("inputFacets", {}))
            for d in data.get("inputs", [])
        ],
        outputs=[
            OutputDataset(namespace=d["namespace"], name=d["name"], facets=d.get("facets", {}), outputFacets=d.get("outputFacets", {}))
            for d in data.get("outputs", [])
        ],
        producer=data["producer"],
    )


PARKED_SHOWN = 20
"""Parked events listed by `govern lineage status`, newest first; the count covers them all."""


@dataclass(frozen=True)
class Backlog:
    """What is waiting: shown by `govern lineage status` and exported to /metrics. Parked events (delivery
    gave up on them) are counted apart from pending ones and listed with their errors."""

    pending: int
    failing: int
    delivered: int
    oldest_pending_at: datetime | None
    last_error: str | None
    parked: int = 0
    parked_events: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending, "failing": self.failing, "delivered": self.delivered,
            "oldestPendingAt": self.oldest_pending_at.isoformat() if self.oldest_pending_at else None,
            "lastError": self.last_error, "parked": self.parked, "parkedEvents": list(self.parked_events),
        }


def backlog(session: Session) -> Backlog:
    entry = LineageOutboxEntry
    pending_rows = (col(entry.delivered_at).is_(None), col(entry.parked_at).is_(None))
    pending, oldest = session.exec(select(func.count(), func.min(entry.created_at)).where(*pending_rows)).one()
    failing = session.exec(select(func.count()).where(*pending_rows, col(entry.attempts) > 0)).one()
    delivered = session.exec(select(func.count()).where(col(entry.delivered_at).is_not(None))).one()
    last_error = session.exec(
        select(entry.last_error).where(*pending_rows, col(entry.last_error).is_not(None)).order_by(col(entry.id).desc()).limit(1)
    ).first()
    parked_rows = col(entry.parked_at).is_not(None), col(entry.delivered_at).is_(None)
    parked = session.exec(select(func.count()).where(*parked_rows)).one()
    shown = session.exec(select(entry).where(*parked_rows).order_by(col(entry.id).desc()).limit(PARKED_SHOWN)).all()
    return Backlog(pending, failing, delivered, as_utc(oldest) if oldest else None, last_error, parked, tuple(
        {"id": row.id, "runId": row.run_id, "eventType": row.event_type, "attempts": row.attempts,
         "parkedAt": as_utc(cast(datetime, row.parked_at)).isoformat(), "error": row.last_error}
        for row in shown  # parked rows, so parked_at is set
    ))
