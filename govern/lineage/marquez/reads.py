"""The questions Marquez's clients ask, answered from the lineage store's tables, a page at a time with
Marquez's `totalCount`. Who sees what is the store's rule (`govern.lineage.store.query`): a caller confined
to its teams sees no other team's `govern.<team>` namespace, job or run; datasets are visible to all.

A job is every (namespace, name) a run or a static JobEvent gave; a dataset every one a run or JobEvent read
or wrote; a dataset version is what one run wrote. Facets come from the newest `EVENTS_READ` events of a run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, literal, or_, select, true, union
from sqlmodel import Session

from govern.lineage.marquez import shapes
from govern.lineage.store.ingest import STATIC_LINEAGE, team_of
from govern.lineage.store.ingest import run_id as canonical_run_id
from govern.lineage.store.write import EDGES, EVENTS, RUNS
from govern.records.errors import RecordError, as_utc

EVENTS_READ = 50
"""Events of one run read for its facets: the newest, so a run with a million RUNNING events stays cheap."""
LATEST_RUNS = 10
Teams = set[str] | None


def may_see(namespace: str, teams: Teams) -> bool:
    team = team_of(namespace) if namespace.startswith("govern.") else None
    return teams is None or not namespace.startswith("govern.") or (team is not None and team in teams)


def visible(column: Any, teams: Teams) -> ColumnElement[bool]:
    """`may_see` in SQL, stricter for a `govern.` namespace that names no team (only govern writes those)."""
    if teams is None:
        return true()
    return or_(func.substr(column, 1, 7) != "govern.", column.in_([f"govern.{team}" for team in sorted(teams)]))


def page(session: Session, keys: Select[Any], order: Iterable[Any], limit: int, offset: int) -> tuple[int, list[Row[Any]]]:
    found = keys.subquery()
    total = session.execute(select(func.count()).select_from(found)).scalar_one()
    rows = session.execute(select(found).order_by(*(found.c[name] for name in order)).limit(limit).offset(offset)).all()
    return total, list(rows)


def job_keys() -> Any:
    """(run_id, namespace, name) of every run and every static JobEvent's edges."""
    return union(
        select(RUNS.c.run_id, RUNS.c.job_namespace.label("namespace"), RUNS.c.job_name.label("name")),
        select(EDGES.c.run_id, EDGES.c.job_namespace.label("namespace"), EDGES.c.job_name.label("name")),
    ).subquery()


def span(session: Session, keys: Any) -> tuple[datetime | None, datetime | None]:
    first, last = session.execute(select(func.min(EVENTS.c.event_time), func.max(EVENTS.c.event_time)).where(EVENTS.c.run_id.in_(keys))).one()
    return (as_utc(first) if first else None, as_utc(last) if last else None)


def events_of(session: Session, key: str) -> list[dict[str, Any]]:
    rows = session.execute(select(EVENTS.c.payload).where(EVENTS.c.run_id == key).order_by(EVENTS.c.id.desc()).limit(EVENTS_READ)).scalars()
    return [json.loads(payload) for payload in reversed(list(rows))]


# --- namespaces ----------------------------------------------------------------------------------------


def namespaces(session: Session, teams: Teams, limit: int, offset: int) -> dict[str, Any]:
    names = union(*(select(column.label("name")).where(visible(column, teams))
                    for column in (RUNS.c.job_namespace, EDGES.c.job_namespace, EDGES.c.dataset_namespace)))
    total, rows = page(session, select(names.subquery()), ["name"], limit, offset)
    return {"namespaces": [_namespace(session, row.name) for row in rows], "totalCount": total}


def namespace(session: Session, name: str, teams: Teams) -> dict[str, Any]:
    known_namespace(session, name, teams)
    return _namespace(session, name)


def _namespace(session: Session, name: str) -> dict[str, Any]:
    keys = union(select(RUNS.c.run_id).where(RUNS.c.job_namespace == name),
                 select(EDGES.c.run_id).where(or_(EDGES.c.job_namespace == name, EDGES.c.dataset_namespace == name)))
    return shapes.namespace(name, team_of(name), *span(session, select(keys.subquery())))


def known_namespace(session: Session, name: str, teams: Teams) -> None:
    known = (select(RUNS.c.run_id).where(RUNS.c.job_namespace == name).limit(1),
             select(EDGES.c.run_id).where(EDGES.c.job_namespace == name).limit(1),
             select(EDGES.c.run_id).where(EDGES.c.dataset_namespace == name).limit(1))
    if not may_see(name, teams) or not any(session.execute(query).first() for query in known):
        raise RecordError(f"Namespace '{name}' not found.", 404)


# --- jobs and runs -------------------------------------------------------------------------------------


def jobs(session: Session, job_namespace: str, teams: Teams, limit: int, offset: int) -> dict[str, Any]:
    known_namespace(session, job_namespace, teams)
    keys = job_keys()
    total, rows = page(session, select(keys.c.name).where(keys.c.namespace == job_namespace).distinct(), ["name"], limit, offset)
    return {"jobs": [_job(session, job_namespace, row.name, 1) for row in rows], "totalCount": total}


def job(session: Session, job_namespace: str, name: str, teams: Teams) -> dict[str, Any]:
    _known_job(session, job_namespace, name, teams)
    return _job(session, job_namespace, name, LATEST_RUNS)


def job_runs(session: Session, job_namespace: str, name: str, teams: Teams, limit: int, offset: int) -> dict[str, Any]:
    _known_job(session, job_namespace, name, teams)
    of_job = select(RUNS).where(RUNS.c.job_namespace == job_namespace, RUNS.c.job_name == name)
    total = session.execute(select(func.count()).select_from(of_job.subquery())).scalar_one()
    rows = session.execute(of_job.order_by(RUNS.c.state_time.desc().nulls_last(), RUNS.c.run_id).limit(limit).offset(offset)).all()
    return {"runs": [run_shape(session, row) for row in rows], "totalCount": total}


def run(session: Session, run_id: str, teams: Teams) -> dict[str, Any]:
    try:
        key = canonical_run_id(run_id, "run id")
    except RecordError:
        raise RecordError(f"Run '{run_id}' not found.", 404) from None
    row = session.execute(select(RUNS).where(RUNS.c.run_id == key)).first()
    if row is None or not may_see(row.job_namespace, teams):
        raise RecordError(f"Run '{run_id}' not found.", 404)
    return run_shape(session, row)


def job_data(session: Session, job_namespace: str, name: str) -> dict[str, Any]:
    """A job as a lineage graph node: the job with its latest run."""
    return _job(session, job_namespace, name, 1)


def _known_job(session: Session, job_namespace: str, name: str, teams: Teams) -> None:
    known = (select(RUNS.c.run_id).where(RUNS.c.job_namespace == job_namespace, RUNS.c.job_name == name).limit(1),
             select(EDGES.c.run_id).where(EDGES.c.job_namespace == job_namespace, EDGES.c.job_name == name).limit(1))
    if not may_see(job_namespace, teams) or not any(session.execute(query).first() for query in known):
        raise RecordError(f"Job '{job_namespace}:{name}' not found.", 404)


def _job(session: Session, job_namespace: str, name: str, latest: int) -> dict[str, Any]:
    static_key = str(uuid.uuid5(STATIC_LINEAGE, f"job:{job_namespace}:{name}"))
    runs = session.execute(select(RUNS).where(RUNS.c.job_namespace == job_namespace, RUNS.c.job_name == name)
                           .order_by(RUNS.c.state_time.desc().nulls_last(), RUNS.c.run_id).limit(latest)).all()
    keys = union(select(RUNS.c.run_id).where(RUNS.c.job_namespace == job_namespace, RUNS.c.job_name == name), select(literal(static_key)))
    datasets = session.execute(select(EDGES.c.direction, EDGES.c.dataset_namespace, EDGES.c.dataset_name)
                               .where(EDGES.c.job_namespace == job_namespace, EDGES.c.job_name == name).distinct()
                               .order_by(EDGES.c.dataset_namespace, EDGES.c.dataset_name)).all()
    ids = {direction: [{"namespace": ns, "name": n} for d, ns, n in datasets if d == direction] for direction in ("input", "output")}
    events = events_of(session, runs[0].run_id if runs else static_key)
    return shapes.job(job_namespace, name, team_of(job_namespace), span(session, select(keys.subquery())), ids["input"], ids["output"],
                      events, [run_shape(session, row) for row in runs])


def run_shape(session: Session, row: Row[Any]) -> dict[str, Any]:
    datasets = session.execute(select(EDGES.c.direction, EDGES.c.dataset_namespace, EDGES.c.dataset_name)
                               .where(EDGES.c.run_id == row.run_id).order_by(EDGES.c.dataset_namespace, EDGES.c.dataset_name)).all()
    inputs = []
    for _, namespace, name in (dataset for dataset in datasets if dataset[0] == "input"):
        writer = producer(session, namespace, name, row)
        version = shapes.dataset_version(namespace, name, writer.run_id) if writer is not None else None
        inputs.append({"datasetVersionId": {"namespace": namespace, "name": name, "version": version}, "facets": {}})
    outputs = [{"namespace": namespace, "name": name, "version": shapes.dataset_version(namespace, name, row.run_id)}
               for direction, namespace, name in datasets if direction == "output"]
    return shapes.run(row, events_of(session, row.run_id), inputs, outputs)


def producer(session: Session, namespace: str, name: str, consumer: Row[Any]) -> Row[Any] | None:
    """The run that last wrote the dataset before the consumer started (by end, else latest event)."""
    activity = func.coalesce(RUNS.c.ended_at, RUNS.c.state_time)
    query = (
        select(RUNS)
        .join(EDGES, EDGES.c.run_id == RUNS.c.run_id)
        .where(EDGES.c.dataset_namespace == namespace, EDGES.c.dataset_name == name, EDGES.c.direction == "output",
               RUNS.c.run_id != consumer.run_id)
    )
    began = consumer.started_at or consumer.state_time
    if began is not None:
        query = query.where(activity <= as_utc(began))
    return session.execute(query.order_by(activity.desc().nulls_last(), RUNS.c.run_id).limit(1)).first()
