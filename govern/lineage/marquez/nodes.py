"""Marquez's node data for a whole lineage graph at once: the same JobData and DatasetData as
`reads.job_data` and `datasets.dataset_data` give one node, read with seven queries for all the nodes (a
window function picks each one's latest run and newest events) instead of about six queries per node.

A static JobEvent's or DatasetEvent's events carry a run id derived from the node's name (`STATIC_LINEAGE`),
which SQL cannot derive, so those are read by id and merged in here.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Subquery, case, func, or_, select, tuple_
from sqlmodel import Session

from govern.lineage.marquez import shapes
from govern.lineage.marquez.reads import EVENTS_READ
from govern.lineage.store.ingest import STATIC_LINEAGE, team_of
from govern.lineage.store.write import EDGES, EVENTS, RUNS
from govern.records.errors import as_utc

Key = tuple[str, str]
"""A job's or dataset's (namespace, name)."""
Span = tuple[datetime | None, datetime | None]


def nodes_data(session: Session, nodes: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Each (kind, namespace, name) node's data, kind "job" or "dataset"; at most a few hundred nodes a call,
    since each is a parameter of an IN list."""
    jobs = sorted({(namespace, name) for kind, namespace, name in nodes if kind == "job"})
    datasets = sorted({(namespace, name) for kind, namespace, name in nodes if kind == "dataset"})
    statics = {_static_key("job", key): key for key in jobs} | {_static_key("dataset", key): key for key in datasets}
    latest_runs = _latest(session, RUNS.c.job_namespace, RUNS.c.job_name, RUNS, jobs)
    job_events = {key: latest_runs[key].run_id if key in latest_runs else _static_key("job", key) for key in jobs}
    by_run, run_spans = _newest(session, [EVENTS.c.run_id], EVENTS.c.run_id.in_(sorted({*job_events.values(), *statics})))
    static_spans = {statics[run_id]: span for run_id, span in run_spans.items() if run_id in statics}
    data = {("job", *key): job for key, job in _jobs(session, jobs, latest_runs, job_events, by_run, static_spans).items()}
    return data | {("dataset", *key): dataset for key, dataset in _datasets(session, datasets, by_run, static_spans).items()}


def _jobs(session: Session, jobs: list[Key], latest_runs: dict[Key, Row[Any]], job_events: dict[Key, str],
          by_run: dict[Any, dict[int, str]], static_spans: dict[Key, Span]) -> dict[Key, dict[str, Any]]:
    """`reads.job_data` of each job: its latest run's events (its static JobEvent's without a run), its
    span over all its runs' events and its static ones."""
    if not jobs:
        return {}
    runs_of = select(RUNS.c.job_namespace.label("namespace"), RUNS.c.job_name.label("name"), RUNS.c.run_id).where(
        tuple_(RUNS.c.job_namespace, RUNS.c.job_name).in_(jobs)).subquery()
    spans = _spans(session, runs_of)
    ids = _job_datasets(session, jobs)
    runs = _run_shapes(session, list(latest_runs.values()), by_run)
    return {key: shapes.job(key[0], key[1], team_of(key[0]), _merged(spans.get(key), static_spans.get(key)), ids[key]["input"],
                            ids[key]["output"], _loads(by_run.get(job_events[key], {})),
                            [runs[latest_runs[key].run_id]] if key in latest_runs else [])
            for key in jobs}


def _datasets(session: Session, datasets: list[Key], by_run: dict[Any, dict[int, str]],
              static_spans: dict[Key, Span]) -> dict[Key, dict[str, Any]]:
    """`datasets.dataset_data` of each dataset: the newest events of the runs that read or wrote it and of its
    static DatasetEvents, and its latest writer."""
    if not datasets:
        return {}
    writers = _latest(session, EDGES.c.dataset_namespace, EDGES.c.dataset_name,
                      RUNS.join(EDGES, EDGES.c.run_id == RUNS.c.run_id), datasets, EDGES.c.direction == "output")
    edges_of = select(EDGES.c.dataset_namespace.label("namespace"), EDGES.c.dataset_name.label("name"), EDGES.c.run_id).where(
        tuple_(EDGES.c.dataset_namespace, EDGES.c.dataset_name).in_(datasets)).distinct().subquery()
    events, spans = _newest(session, [edges_of.c.namespace, edges_of.c.name], None, edges_of)
    data = {}
    for key in datasets:
        found = events.get(key, {}) | by_run.get(_static_key("dataset", key), {})
        writer = writers.get(key)
        current = shapes.dataset_version(key[0], key[1], writer.run_id) if writer is not None else None
        modified = writer.ended_at if writer is not None and writer.state == "COMPLETE" else None
        data[key] = shapes.dataset(key[0], key[1], _merged(spans.get(key), static_spans.get(key)), _loads(found), current, modified)
    return data


def _static_key(kind: str, key: Key) -> str:
    return str(uuid.uuid5(STATIC_LINEAGE, f"{kind}:{key[0]}:{key[1]}"))


def _latest(session: Session, namespace: Any, name: Any, source: Any, keys: list[Key], *where: Any) -> dict[Key, Row[Any]]:
    """Each key's run with the latest state time, as `reads._job` and `datasets._dataset` pick it."""
    if not keys:
        return {}
    order = func.row_number().over(partition_by=(namespace, name), order_by=(RUNS.c.state_time.desc().nulls_last(), RUNS.c.run_id))
    ranked = (select(*RUNS.c, namespace.label("owner_namespace"), name.label("owner_name"), order.label("rank"))
              .select_from(source).where(tuple_(namespace, name).in_(keys), *where).subquery())
    rows = session.execute(select(ranked).where(ranked.c.rank == 1))
    return {(row.owner_namespace, row.owner_name): row for row in rows}


def _owned(where: Any, keys: Subquery | None, query: Select[Any]) -> Select[Any]:
    if keys is not None:
        query = query.join(keys, keys.c.run_id == EVENTS.c.run_id)
    return query.where(where) if where is not None else query


def _spans(session: Session, keys: Subquery) -> dict[Any, Span]:
    """The first and last event time of each (namespace, name) owner of the run ids in `keys`."""
    owner = (keys.c.namespace, keys.c.name)
    query = _owned(None, keys, select(*owner, func.min(EVENTS.c.event_time), func.max(EVENTS.c.event_time)).select_from(EVENTS))
    return {(namespace, name): (first, last) for namespace, name, first, last in session.execute(query.group_by(*owner))}


def _newest(session: Session, owner: Sequence[Any], where: Any, keys: Subquery | None = None) -> tuple[dict[Any, dict[int, str]], dict[Any, Span]]:
    """Each owner's `EVENTS_READ` newest events (id → payload) and the first and last time of all its
    events; an owner is a run id, or a node through `keys`. Payloads are joined after ranking, so the sort
    stays narrow."""
    ranked = _owned(where, keys, select(
        *owner, EVENTS.c.id, func.row_number().over(partition_by=owner, order_by=EVENTS.c.id.desc()).label("rank"),
        func.min(EVENTS.c.event_time).over(partition_by=owner), func.max(EVENTS.c.event_time).over(partition_by=owner),
    ).select_from(EVENTS)).subquery()
    found: dict[Any, dict[int, str]] = defaultdict(dict)
    spans: dict[Any, Span] = {}
    newest = select(ranked, EVENTS.c.payload).join(EVENTS, EVENTS.c.id == ranked.c.id).where(ranked.c.rank <= EVENTS_READ)
    for *key, event_id, _, first, last, payload in session.execute(newest):
        found[_owner(key)][event_id] = payload
        spans[_owner(key)] = (first, last)
    return found, spans


def _owner(columns: Sequence[Any]) -> Any:
    return columns[0] if len(columns) == 1 else tuple(columns)


def _loads(payloads: dict[int, str]) -> list[dict[str, Any]]:
    """The newest `EVENTS_READ` events oldest first, as `reads.events_of` gives them."""
    return [json.loads(payloads[event_id]) for event_id in sorted(payloads)[-EVENTS_READ:]]


def _merged(*spans: Span | None) -> Span:
    firsts = [as_utc(span[0]) for span in spans if span is not None and span[0] is not None]
    lasts = [as_utc(span[1]) for span in spans if span is not None and span[1] is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def _job_datasets(session: Session, jobs: list[Key]) -> dict[Key, dict[str, list[dict[str, str]]]]:
    query = (select(EDGES.c.job_namespace, EDGES.c.job_name, EDGES.c.direction, EDGES.c.dataset_namespace, EDGES.c.dataset_name)
             .where(tuple_(EDGES.c.job_namespace, EDGES.c.job_name).in_(jobs)).distinct()
             .order_by(EDGES.c.job_namespace, EDGES.c.job_name, EDGES.c.dataset_namespace, EDGES.c.dataset_name))
    ids: dict[Key, dict[str, list[dict[str, str]]]] = {key: {"input": [], "output": []} for key in jobs}
    for job_namespace, job_name, direction, namespace, name in session.execute(query):
        ids[(job_namespace, job_name)][direction].append({"namespace": namespace, "name": name})
    return ids


def _run_shapes(session: Session, runs: list[Row[Any]], events: dict[Any, dict[int, str]]) -> dict[str, dict[str, Any]]:
    """`reads.run_shape` of each run, each input's version that of its `reads.producer`."""
    if not runs:
        return {}
    read, written, consumer = EDGES.alias("read"), EDGES.alias("written"), RUNS.alias("consumer")
    activity = func.coalesce(RUNS.c.ended_at, RUNS.c.state_time)
    began = func.coalesce(consumer.c.started_at, consumer.c.state_time)
    producer = (select(RUNS.c.run_id).join(written, written.c.run_id == RUNS.c.run_id)
                .where(written.c.dataset_namespace == read.c.dataset_namespace, written.c.dataset_name == read.c.dataset_name,
                       written.c.direction == "output", RUNS.c.run_id != consumer.c.run_id, or_(began.is_(None), activity <= began))
                .order_by(activity.desc().nulls_last(), RUNS.c.run_id).limit(1).scalar_subquery())
    query = (select(read.c.run_id, read.c.direction, read.c.dataset_namespace, read.c.dataset_name,
                    case((read.c.direction == "input", producer)).label("producer"))
             .join(consumer, consumer.c.run_id == read.c.run_id).where(read.c.run_id.in_([run.run_id for run in runs]))
             .order_by(read.c.run_id, read.c.dataset_namespace, read.c.dataset_name))
    inputs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    outputs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run_id, direction, namespace, name, writer in session.execute(query):
        if direction == "input":
            version = shapes.dataset_version(namespace, name, writer) if writer is not None else None
            inputs[run_id].append({"datasetVersionId": {"namespace": namespace, "name": name, "version": version}, "facets": {}})
        else:
            outputs[run_id].append({"namespace": namespace, "name": name, "version": shapes.dataset_version(namespace, name, run_id)})
    return {run.run_id: shapes.run(run, _loads(events.get(run.run_id, {})), inputs[run.run_id], outputs[run.run_id]) for run in runs}
