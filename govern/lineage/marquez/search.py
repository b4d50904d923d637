"""Marquez's search (jobs and datasets by a part of their name) and its list of stored events, over the
lineage store; both paged, with the total."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, literal, or_, select, union_all
from sqlmodel import Session

from govern.lineage.marquez import reads, shapes
from govern.lineage.store.write import EDGES, EVENTS
from govern.records.errors import as_utc

FILTERS = ("DATASET", "JOB")
SORTS = ("NAME", "UPDATE_AT")


def search(
    session: Session, text: str, teams: reads.Teams, *, kind: str | None, sort: str, limit: int,
    namespace: str | None, before: date | None, after: date | None,
) -> dict[str, Any]:
    """Jobs and datasets whose name contains `text` (any case), updated within [after, before)."""
    keys = reads.job_keys()
    jobs = (select(literal("JOB").label("type"), keys.c.namespace, keys.c.name, func.max(EVENTS.c.event_time).label("updated"))
            .join(EVENTS, EVENTS.c.run_id == keys.c.run_id, isouter=True)
            .where(func.lower(keys.c.name).contains(text.lower(), autoescape=True), reads.visible(keys.c.namespace, teams))
            .group_by(keys.c.namespace, keys.c.name))
    datasets = (select(literal("DATASET").label("type"), EDGES.c.dataset_namespace.label("namespace"), EDGES.c.dataset_name.label("name"),
                       func.max(EVENTS.c.event_time).label("updated"))
                .join(EVENTS, EVENTS.c.run_id == EDGES.c.run_id, isouter=True)
                .where(func.lower(EDGES.c.dataset_name).contains(text.lower(), autoescape=True),
                       reads.visible(EDGES.c.dataset_namespace, teams))
                .group_by(EDGES.c.dataset_namespace, EDGES.c.dataset_name))
    if namespace is not None:
        jobs, datasets = jobs.where(keys.c.namespace == namespace), datasets.where(EDGES.c.dataset_namespace == namespace)
    if after is not None:
        jobs = jobs.having(func.max(EVENTS.c.event_time) >= _midnight(after))
        datasets = datasets.having(func.max(EVENTS.c.event_time) >= _midnight(after))
    if before is not None:
        jobs = jobs.having(func.max(EVENTS.c.event_time) < _midnight(before))
        datasets = datasets.having(func.max(EVENTS.c.event_time) < _midnight(before))
    found = union_all(*([datasets] if kind in (None, "DATASET") else []), *([jobs] if kind in (None, "JOB") else [])).subquery()
    total = session.execute(select(func.count()).select_from(found)).scalar_one()
    order = [found.c.updated.desc().nulls_last(), found.c.name] if sort == "UPDATE_AT" else [found.c.name, found.c.namespace]
    rows = session.execute(select(found).order_by(*order, found.c.type).limit(limit)).all()
    return {"totalCount": total, "results": [
        {"type": row.type, "name": row.name, "updatedAt": shapes.iso(as_utc(row.updated) if row.updated else None),
         "namespace": row.namespace, "nodeId": f"{row.type.lower()}:{row.namespace}:{row.name}"}
        for row in rows
    ]}


def lineage_events(
    session: Session, teams: reads.Teams, *, before: datetime | None, after: datetime | None, descending: bool, limit: int,
    offset: int, namespace: str | None = None,
) -> dict[str, Any]:
    """The stored events by event time (newest first unless asked), as they were received."""
    chosen = select(EVENTS.c.id, EVENTS.c.payload, EVENTS.c.event_time)
    if teams is not None:
        chosen = chosen.where(or_(EVENTS.c.team.is_(None), EVENTS.c.team.in_(sorted(teams))))
    if before is not None:
        chosen = chosen.where(EVENTS.c.event_time < as_utc(before))
    if after is not None:
        chosen = chosen.where(EVENTS.c.event_time > as_utc(after))
    if namespace is not None:
        chosen = chosen.where(EVENTS.c.job_namespace == namespace)
    total = session.execute(select(func.count()).select_from(chosen.subquery())).scalar_one()
    order = [EVENTS.c.event_time.desc(), EVENTS.c.id.desc()] if descending else [EVENTS.c.event_time, EVENTS.c.id]
    rows = session.execute(chosen.order_by(*order).limit(limit).offset(offset)).all()
    return {"events": [json.loads(row.payload) for row in rows], "totalCount": total}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)
