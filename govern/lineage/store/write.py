"""govern's own lineage store, for teams without Marquez: OpenLineage events (spec 2-0-x) from govern and
from other producers (Airflow, dbt, Spark), kept verbatim; `queries` answers from it as a graph.

Storing an event also updates two derived tables, which are all the queries read: the datasets each run
(or, for a static JobEvent, each job) read and wrote (`lineage_io`) and each run's latest state
(`lineage_runs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, and_, bindparam, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from govern.db.tables import LineageEdgeRecord, LineageEventRecord, LineageRunRecord, table_of, utcnow
from govern.lineage.store.ingest import ENDING_TYPES, ParsedEvent, parse
from govern.records.errors import RecordError

BATCH_SIZE = 20_000
"""Events per transaction of a bulk load: fewer, larger transactions rewrite each index page less often,
but on SQLite a batch holds the write lock (about 3 s at a million stored events), and other writers give
up after 5 s."""
BULK_CACHE_KIB = 512 * 1024
"""SQLite page cache while a bulk batch runs, enough for the index pages a batch touches."""
_IN_CHUNK = 500  # parameters per IN (...) list, well under SQLite's limit

EVENTS = table_of(LineageEventRecord)
EDGES = table_of(LineageEdgeRecord)
RUNS = table_of(LineageRunRecord)


def ingest(session: Session, event: dict[str, Any]) -> bool:
    """Store one event in the caller's transaction; False when it was stored before (a redelivery)."""
    return ingest_parsed(session, parse(event))


def ingest_parsed(session: Session, event: ParsedEvent) -> bool:
    """`ingest` for an event already parsed (the service parses first, to decide who may write it)."""
    return _store(session, [event]) == 1


def ingest_many(session: Session, events: Iterable[dict[str, Any]], batch_size: int = BATCH_SIZE) -> int:
    """Store events in batches, each committed as one transaction of a few executemany statements; returns
    how many were new. A bad event stops the load with its position: the batches before it stay stored,
    and loading the same events again is safe because duplicates are skipped."""
    stored, batch = 0, []
    for position, event in enumerate(events):
        try:
            batch.append(parse(event))
        except RecordError as exc:
            raise RecordError(f"event {position}: {exc}", exc.status) from None
        if len(batch) == batch_size:
            stored += _store_batch(session, batch)
            batch = []
    if batch:
        stored += _store_batch(session, batch)
    return stored


def last_event_id(session: Session) -> int:
    """The highest stored event id (0 when empty): the bound of an export, and the `since` of the next."""
    return session.execute(select(func.max(EVENTS.c.id))).scalar() or 0


@dataclass
class _RunChange:
    """One run's events of a batch folded together, so each run is one upsert row (PostgreSQL refuses to
    update a row twice in one INSERT … ON CONFLICT)."""

    run_id: str
    job_namespace: str
    job_name: str
    team: str | None
    state: str | None = None
    state_time: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    parent_run_id: str | None = None
    decision_id: str | None = None
    allow: bool | None = None

    def absorb(self, event: ParsedEvent) -> None:
        """The same rules the upsert applies against the stored row: latest state by event time, first
        start, last end, and facets from whichever event carried them."""
        if event.event_type is not None and (self.state_time is None or event.event_time >= self.state_time):
            self.state, self.state_time = event.event_type, event.event_time
        if event.event_type == "START" and (self.started_at is None or event.event_time < self.started_at):
            self.started_at = event.event_time
        if event.event_type in ENDING_TYPES and (self.ended_at is None or event.event_time > self.ended_at):
            self.ended_at = event.event_time
        self.parent_run_id = event.parent_run_id or self.parent_run_id
        self.decision_id = event.decision_id or self.decision_id
        self.allow = event.allow if event.allow is not None else self.allow


def _store_batch(session: Session, batch: list[ParsedEvent]) -> int:
    """One transaction of a bulk load: committed when stored, rolled back when refused."""
    try:
        with _bulk_page_cache(session):
            stored = _store(session, batch)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return stored


@contextmanager
def _bulk_page_cache(session: Session) -> Iterator[None]:
    """A bulk batch updates index pages all over the B-trees; with SQLite's default 2 MB page cache they
    would spill to the WAL again and again. A larger cache for the batch, then the connection's own back."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    connection = session.connection()
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")  # negative: KiB
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def _store(session: Session, parsed: list[ParsedEvent]) -> int:
    """Insert the events not stored before, then their edges and runs; returns how many were new."""
    unique = list({event.event_hash: event for event in parsed}.values())
    _check_runs_keep_their_job(session, unique)
    insert = _dialect_insert(session)
    new = _insert_events(session, unique)
    if not new:
        return 0

    edges = {
        (e.run_id, direction, namespace, name): {
            "run_id": e.run_id, "direction": direction, "dataset_namespace": namespace, "dataset_name": name,
            "job_namespace": e.job_namespace, "job_name": e.job_name,
        }
        for e in new for direction, namespace, name in e.datasets
    }
    if edges:
        session.execute(insert(EDGES).on_conflict_do_nothing(), list(edges.values()))

    runs: dict[str, _RunChange] = {}
    for event in (e for e in new if e.kind == "run"):
        runs.setdefault(event.run_id, _RunChange(event.run_id, event.job_namespace, event.job_name, event.team)).absorb(event)
    if not runs:
        return len(new)
    upsert = insert(RUNS)
    session.execute(upsert.on_conflict_do_update(index_elements=["run_id"], set_=_merge(upsert.excluded)), [vars(run) for run in runs.values()])
    return len(new)


def _dialect_insert(session: Session) -> Callable[[Table], Any]:
    """INSERT … ON CONFLICT is spelled alike by both databases but built by each dialect's own insert()."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _insert_events(session: Session, events: list[ParsedEvent]) -> list[ParsedEvent]:
    """Insert the events not stored before and return them. For one event, RETURNING tells exactly, even
    while another transaction stores the same event. For a batch, a plain executemany (psycopg re-parses a
    multi-row INSERT … RETURNING page by page, several times slower), then the rows past the previous last
    id are read back: exact on SQLite, whose writers take turns; on PostgreSQL an identical event stored
    at the same moment by another transaction may be counted by both."""
    received_at = utcnow()
    rows = [
        {"event_hash": e.event_hash, "run_id": e.run_id, "event_type": e.event_type, "event_time": e.event_time,
         "job_namespace": e.job_namespace, "job_name": e.job_name, "producer": e.producer, "team": e.team,
         "payload": e.payload, "received_at": received_at}
        for e in events
    ]
    statement = _dialect_insert(session)(EVENTS).on_conflict_do_nothing(index_elements=["event_hash"])
    if len(rows) == 1:
        new_hashes = set(session.execute(statement.returning(EVENTS.c.event_hash), rows).scalars())
    else:
        previous_last_id = last_event_id(session)
        session.execute(statement, rows)
        new_hashes = set(session.execute(select(EVENTS.c.event_hash).where(EVENTS.c.id > previous_last_id)).scalars())
    return [event for event in events if event.event_hash in new_hashes]


def _merge(incoming: Any) -> dict[str, Any]:
    """`_RunChange.absorb` in SQL: how a batch's row for a run combines with the stored one."""
    stored = RUNS.c
    newer_state = and_(incoming.state.is_not(None), or_(stored.state_time.is_(None), incoming.state_time >= stored.state_time))
    return {
        "state": case((newer_state, incoming.state), else_=stored.state),
        "state_time": case((newer_state, incoming.state_time), else_=stored.state_time),
        "started_at": case((or_(stored.started_at.is_(None), incoming.started_at < stored.started_at), incoming.started_at),
                           else_=stored.started_at),
        "ended_at": case((or_(stored.ended_at.is_(None), incoming.ended_at > stored.ended_at), incoming.ended_at),
                         else_=stored.ended_at),
        "parent_run_id": func.coalesce(incoming.parent_run_id, stored.parent_run_id),
        "decision_id": func.coalesce(incoming.decision_id, stored.decision_id),
        "allow": func.coalesce(incoming.allow, stored.allow),
    }


def _check_runs_keep_their_job(session: Session, parsed: list[ParsedEvent]) -> None:
    """A run belongs to one job; an event that moves it (a mistaken or forged run id) is refused rather
    than letting the run appear under two jobs, possibly of two teams. Static events have no run."""
    jobs: dict[str, tuple[str, str]] = {}
    for event in (e for e in parsed if e.kind == "run"):
        _same_job(event.run_id, jobs.setdefault(event.run_id, (event.job_namespace, event.job_name)), (event.job_namespace, event.job_name))
    for run_id, namespace, name in _stored_jobs(session, list(jobs)):
        _same_job(run_id, (namespace, name), jobs[run_id])


def _stored_jobs(session: Session, run_ids: list[str]) -> Iterator[tuple[str, str, str]]:
    """(run id, job namespace, job name) of those runs already stored. PostgreSQL gets the ids as one array
    joined through unnest(): with an IN list of parameters its planner, whose statistics lag behind a bulk
    load, scans the whole table once per list."""
    columns = (RUNS.c.run_id, RUNS.c.job_namespace, RUNS.c.job_name)
    if session.get_bind().dialect.name == "postgresql":
        batch = func.unnest(bindparam("run_ids", run_ids, type_=postgresql.ARRAY(String))).table_valued("run_id").render_derived("batch")
        yield from session.execute(select(*columns).join(batch, batch.c.run_id == RUNS.c.run_id))
        return
    for start in range(0, len(run_ids), _IN_CHUNK):
        yield from session.execute(select(*columns).where(RUNS.c.run_id.in_(run_ids[start:start + _IN_CHUNK])))


def _same_job(run_id: str, known: tuple[str, str], claimed: tuple[str, str]) -> None:
    if known != claimed:
        raise RecordError(f"run {run_id} belongs to job {known[0]}:{known[1]}, not {claimed[0]}:{claimed[1]}", 409)

