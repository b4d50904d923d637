"""Marquez's datasets and dataset versions over the lineage store. A dataset's facets (its schema among
them) are merged from the newest events that name it (runs, JobEvents, DatasetEvents), a later facet
replacing an earlier one; each run that wrote it is a version, with the facets that run gave it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Row, func, literal, select, union
from sqlmodel import Session

from govern.lineage.marquez import reads, shapes
from govern.lineage.store.ingest import STATIC_LINEAGE
from govern.lineage.store.write import EDGES, EVENTS, RUNS
from govern.records.errors import RecordError


def datasets(session: Session, namespace: str, teams: reads.Teams, limit: int, offset: int) -> dict[str, Any]:
    reads.known_namespace(session, namespace, teams)
    names = select(EDGES.c.dataset_name.label("name")).where(EDGES.c.dataset_namespace == namespace).distinct()
    total, rows = reads.page(session, names, ["name"], limit, offset)
    return {"datasets": [_dataset(session, namespace, row.name)[0] for row in rows], "totalCount": total}


def dataset(session: Session, namespace: str, name: str, teams: reads.Teams) -> dict[str, Any]:
    _known_dataset(session, namespace, name, teams)
    return _dataset(session, namespace, name)[0]


def versions(session: Session, namespace: str, name: str, teams: reads.Teams, limit: int, offset: int) -> dict[str, Any]:
    _known_dataset(session, namespace, name, teams)
    base = _dataset(session, namespace, name)[0]
    writers = _writers(namespace, name)
    total = session.execute(select(func.count()).select_from(writers.subquery())).scalar_one()
    rows = session.execute(writers.order_by(RUNS.c.state_time.desc().nulls_last(), RUNS.c.run_id).limit(limit).offset(offset)).all()
    return {"versions": [_version(session, base, row, teams) for row in rows], "totalCount": total}


def version(session: Session, namespace: str, name: str, version_id: str, teams: reads.Teams) -> dict[str, Any]:
    """One version by its id: the writers' ids are derived, so each writer's is computed until one matches."""
    _known_dataset(session, namespace, name, teams)
    for row in session.execute(_writers(namespace, name)):
        if shapes.dataset_version(namespace, name, row.run_id) == version_id:
            return _version(session, _dataset(session, namespace, name)[0], row, teams)
    raise RecordError(f"Dataset version '{version_id}' not found.", 404)


def _writers(namespace: str, name: str) -> Any:
    return (select(RUNS).join(EDGES, EDGES.c.run_id == RUNS.c.run_id)
            .where(EDGES.c.dataset_namespace == namespace, EDGES.c.dataset_name == name, EDGES.c.direction == "output"))


def _version(session: Session, base: dict[str, Any], writer: Row[Any], teams: reads.Teams) -> dict[str, Any]:
    """The dataset as the writer left it; a writer hidden from the caller is not shown (`createdByRun` null)."""
    events = reads.events_of(session, writer.run_id)
    as_written = {**base, "facets": shapes.dataset_facets(events, base["namespace"], base["name"])}
    as_written["fields"] = shapes.fields(as_written["facets"])
    created_by = reads.run_shape(session, writer) if reads.may_see(writer.job_namespace, teams) else None
    return shapes.version(as_written, writer.run_id, created_by)


def dataset_data(session: Session, namespace: str, name: str) -> dict[str, Any]:
    """A dataset as a lineage graph node."""
    return _dataset(session, namespace, name)[0]


def _known_dataset(session: Session, namespace: str, name: str, teams: reads.Teams) -> None:
    reads.known_namespace(session, namespace, teams)
    edge = select(EDGES.c.run_id).where(EDGES.c.dataset_namespace == namespace, EDGES.c.dataset_name == name).limit(1)
    if session.execute(edge).first() is None:
        raise RecordError(f"Dataset '{namespace}:{name}' not found.", 404)


def _dataset(session: Session, namespace: str, name: str) -> tuple[dict[str, Any], Row[Any] | None]:
    """The dataset's shape and its latest writer run (None when no run wrote it)."""
    static_key = str(uuid.uuid5(STATIC_LINEAGE, f"dataset:{namespace}:{name}"))
    latest = session.execute(_writers(namespace, name).order_by(RUNS.c.state_time.desc().nulls_last(), RUNS.c.run_id).limit(1)).first()
    keys = union(select(EDGES.c.run_id).where(EDGES.c.dataset_namespace == namespace, EDGES.c.dataset_name == name), select(literal(static_key)))
    newest = (select(EVENTS.c.payload).where(EVENTS.c.run_id.in_(select(keys.subquery())))
              .order_by(EVENTS.c.id.desc()).limit(reads.EVENTS_READ))
    events = [json.loads(payload) for payload in reversed(list(session.execute(newest).scalars()))]
    current = shapes.dataset_version(namespace, name, latest.run_id) if latest is not None else None
    modified = latest.ended_at if latest is not None and latest.state == "COMPLETE" else None
    return shapes.dataset(namespace, name, reads.span(session, select(keys.subquery())), events, current, modified), latest


def sources(session: Session, teams: reads.Teams, limit: int, offset: int) -> dict[str, Any]:
    """Marquez's sources: for OpenLineage events, each dataset namespace is one."""
    names = select(EDGES.c.dataset_namespace.label("name")).where(reads.visible(EDGES.c.dataset_namespace, teams)).distinct()
    total, rows = reads.page(session, names, ["name"], limit, offset)
    return {"sources": [_source(session, row.name) for row in rows], "totalCount": total}


def source(session: Session, name: str, teams: reads.Teams) -> dict[str, Any]:
    known = select(EDGES.c.run_id).where(EDGES.c.dataset_namespace == name).limit(1)
    if not reads.may_see(name, teams) or session.execute(known).first() is None:
        raise RecordError(f"Source '{name}' not found.", 404)
    return _source(session, name)


def _source(session: Session, name: str) -> dict[str, Any]:
    created, updated = reads.span(session, select(EDGES.c.run_id).where(EDGES.c.dataset_namespace == name))
    scheme = name.split("://", 1)[0] if "://" in name else ""
    return {"type": scheme.upper() or "DEFAULT", "name": name, "createdAt": shapes.iso(created), "updatedAt": shapes.iso(updated),
            "connectionUrl": name, "description": None}
