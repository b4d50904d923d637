"""govern's own lineage store, for teams without Marquez: OpenLineage run events (spec 2-0-2) from govern
and from other producers (Airflow, dbt, Spark), kept verbatim and answered as a graph.

Storing an event also updates two derived tables, which are all the queries read: the datasets each run
read and wrote (`lineage_io`) and each run's latest state (`lineage_runs`). A job namespace
`govern.<team>` belongs to that team: a caller confined to its own team sees neither other teams' govern
jobs nor the edges through them; datasets and other producers' jobs are visible to everyone.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, String, Table, and_, bindparam, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from govern.models import LineageEdgeRecord, LineageEventRecord, LineageRunRecord, utcnow
from govern.records import RecordError, as_utc

MAX_DEPTH = 20
BATCH_SIZE = 20_000
"""Events per transaction of a bulk load: fewer, larger transactions rewrite each index page less often,
but on SQLite a batch holds the write lock (about 3 s at a million stored events), and other writers give
up after 5 s."""
BULK_CACHE_KIB = 512 * 1024
"""SQLite page cache while a bulk batch runs, enough for the index pages a batch touches."""
EXPORT_PAGE = 1000
NAMESPACE_MAX_BYTES = 255
NAME_MAX_BYTES = 1000
"""With these bounds every index entry of `lineage_io` fits PostgreSQL's B-tree limit (2704 bytes)."""
DECISION_ID_MAX = 64
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
ENDING_TYPES = frozenset({"COMPLETE", "ABORT", "FAIL"})
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TEAM_NAMESPACE = re.compile(r"govern\.([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)")
_IN_CHUNK = 500  # parameters per IN (...) list, well under SQLite's limit

EVENTS = LineageEventRecord.__table__
EDGES = LineageEdgeRecord.__table__
RUNS = LineageRunRecord.__table__


def team_of(job_namespace: str) -> str | None:
    """The team owning a job namespace `govern.<team>`; None for other producers' namespaces."""
    match = TEAM_NAMESPACE.fullmatch(job_namespace)
    return match.group(1) if match else None


def event_team(event: Any) -> str | None:
    """The team an event's job namespace names, read leniently so authorization can come before validation."""
    job = event.get("job") if isinstance(event, dict) else None
    namespace = job.get("namespace") if isinstance(job, dict) else None
    return team_of(namespace) if isinstance(namespace, str) else None


def ingest(session: Session, event: dict[str, Any]) -> bool:
    """Store one event in the caller's transaction; False when it was stored before (a redelivery)."""
    return _store(session, [_parse(event)]) == 1


def ingest_many(session: Session, events: Iterable[dict[str, Any]], batch_size: int = BATCH_SIZE) -> int:
    """Store events in batches, each committed as one transaction of a few executemany statements; returns
    how many were new. A bad event stops the load with its position: the batches before it stay stored,
    and loading the same events again is safe because duplicates are skipped."""
    stored, batch = 0, []
    for position, event in enumerate(events):
        try:
            batch.append(_parse(event))
        except RecordError as exc:
            raise RecordError(f"event {position}: {exc}", exc.status) from None
        if len(batch) == batch_size:
            stored += _store_batch(session, batch)
            batch = []
    if batch:
        stored += _store_batch(session, batch)
    return stored


def graph(session: Session, node_id: str, depth: int, visible_teams: set[str] | None) -> dict[str, Any]:
    """The lineage graph around a node in Marquez's shape, `depth` job↔dataset hops out (breadth first). A
    job reading a dataset is the edge dataset→job, a job writing one job→dataset."""
    if not 0 <= depth <= MAX_DEPTH:
        raise RecordError(f"depth must be between 0 and {MAX_DEPTH}", 422)
    start = _find_node(session, node_id, visible_teams)
    order, seen, frontier = [start], {start}, [start]
    edges: set[tuple[Node, Node]] = set()
    for _ in range(depth):
        reached = []
        for node in frontier:
            for edge in _edges_of(session, node, visible_teams):
                edges.add(edge)
                other = edge[1] if edge[0] == node else edge[0]
                if other not in seen:
                    seen.add(other)
                    reached.append(other)
        order.extend(reached)
        frontier = reached
    incoming: dict[Node, list[dict[str, str]]] = {node: [] for node in order}
    outgoing: dict[Node, list[dict[str, str]]] = {node: [] for node in order}
    for origin, destination in sorted(edges):
        link = {"origin": origin.id, "destination": destination.id}
        outgoing[origin].append(link)
        incoming[destination].append(link)
    return {"graph": [
        {"id": node.id, "type": node.kind.upper(), "data": _node_data(session, node),
         "inEdges": incoming[node], "outEdges": outgoing[node]}
        for node in order
    ]}


def dataset_runs(
    session: Session, namespace: str, name: str, visible_teams: set[str] | None, limit: int = 100
) -> dict[str, Any]:
    """The runs that read a dataset, most recent first, with their state and the policy decision on them."""
    if not _dataset_exists(session, namespace, name):
        raise RecordError(f"no dataset {namespace}:{name} in the lineage store", 404)
    query = (
        select(RUNS)
        .join(EDGES, EDGES.c.run_id == RUNS.c.run_id)
        .where(EDGES.c.dataset_namespace == namespace, EDGES.c.dataset_name == name, EDGES.c.direction == "input")
    )
    if visible_teams is not None:
        query = query.where(_run_visible(visible_teams))
    query = query.order_by(func.coalesce(RUNS.c.started_at, RUNS.c.state_time).desc().nulls_last(), RUNS.c.run_id).limit(limit)
    runs = session.execute(query).all()
    return {"namespace": namespace, "name": name, "runs": [_run_summary(run) for run in runs]}


def run_upstream(session: Session, run_id: str, visible_teams: set[str] | None, depth: int = MAX_DEPTH) -> dict[str, Any]:
    """What a run's outputs came from: its inputs, the run that last wrote each before this run started,
    and so on up to `depth` levels. A run at the last level names its inputs' producers without listing
    them; a producer hidden from the caller is not named."""
    if not 1 <= depth <= MAX_DEPTH:
        raise RecordError(f"depth must be between 1 and {MAX_DEPTH}", 422)
    root = session.execute(select(RUNS).where(RUNS.c.run_id == _run_id(run_id, "run id"))).first()
    if root is None or not _visible(root.team, visible_teams):
        raise RecordError(f"no run {run_id} in the lineage store", 404)
    entries, seen, queue = [], {root.run_id}, deque([(root, 0)])
    while queue:
        run, level = queue.popleft()
        inputs = []
        for namespace, name in _datasets_of(session, run.run_id, "input"):
            producer = _producer(session, namespace, name, run)
            if producer is not None and not _visible(producer.team, visible_teams):
                producer = None
            inputs.append({"namespace": namespace, "name": name, "producedBy": producer.run_id if producer else None})
            if producer is not None and producer.run_id not in seen and level < depth:
                seen.add(producer.run_id)
                queue.append((producer, level + 1))
        outputs = [{"namespace": namespace, "name": name} for namespace, name in _datasets_of(session, run.run_id, "output")]
        entries.append({**_run_summary(run), "depth": level, "inputs": inputs, "outputs": outputs})
    return {"run": entries[0], "upstream": entries[1:]}


def events(
    session: Session, since_id: int | None = None, limit: int | None = None, *,
    until_id: int | None = None, visible_teams: set[str] | None = None,
) -> Iterator[str]:
    """Stored events (their canonical JSON) in id order, after `since_id` and up to `until_id`, read a page
    at a time so an export of millions stays in constant memory. With `visible_teams`, only those teams'
    events and events of no team."""
    cursor, remaining = since_id or 0, limit
    while remaining is None or remaining > 0:
        query = select(EVENTS.c.id, EVENTS.c.payload).where(EVENTS.c.id > cursor)
        if until_id is not None:
            query = query.where(EVENTS.c.id <= until_id)
        if visible_teams is not None:
            query = query.where(or_(EVENTS.c.team.is_(None), EVENTS.c.team.in_(sorted(visible_teams))))
        page = EXPORT_PAGE if remaining is None else min(EXPORT_PAGE, remaining)
        rows = session.execute(query.order_by(EVENTS.c.id).limit(page)).all()
        if not rows:
            return
        for _, payload in rows:
            yield payload
        cursor = rows[-1][0]
        if remaining is not None:
            remaining -= len(rows)


def last_event_id(session: Session) -> int:
    """The highest stored event id (0 when empty): the bound of an export, and the `since` of the next."""
    return session.execute(select(func.max(EVENTS.c.id))).scalar() or 0


# --- parsing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    """What the three tables need from one valid event."""

    event_hash: str
    run_id: str
    event_type: str | None
    event_time: datetime
    job_namespace: str
    job_name: str
    producer: str
    team: str | None
    payload: str
    parent_run_id: str | None
    decision_id: str | None
    allow: bool | None
    datasets: tuple[tuple[str, str, str], ...]
    """(direction, namespace, name) of each input and output."""


def _parse(event: Any) -> _Event:
    if not isinstance(event, dict):
        raise RecordError("an OpenLineage event must be a JSON object", 422)
    for key in ("eventTime", "producer", "schemaURL"):
        if not isinstance(event.get(key), str) or not event[key]:
            raise RecordError(f"{key} is required and must be a non-empty string", 422)
    event_type = event.get("eventType")
    if event_type is not None and event_type not in EVENT_TYPES:
        raise RecordError(f"eventType must be one of {', '.join(EVENT_TYPES)}", 422)
    run, job = _required_object(event, "run"), _required_object(event, "job")
    job_namespace = _name(job.get("namespace"), "job.namespace", NAMESPACE_MAX_BYTES)
    run_facets = _optional_object(run.get("facets"), "run.facets")
    parent = _optional_object(run_facets.get("parent"), "run.facets.parent")
    parent_run = _optional_object(parent.get("run"), "run.facets.parent.run")
    decision = _optional_object(run_facets.get("govern_policyDecision"), "run.facets.govern_policyDecision")
    decision_id, allow = decision.get("decisionId"), decision.get("allow")
    if decision_id is not None and (not isinstance(decision_id, str) or not 0 < len(decision_id) <= DECISION_ID_MAX):
        raise RecordError(f"govern_policyDecision.decisionId must be a string of 1 to {DECISION_ID_MAX} characters", 422)
    if allow is not None and not isinstance(allow, bool):
        raise RecordError("govern_policyDecision.allow must be true or false", 422)
    try:
        payload = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"the event is not plain JSON: {exc}", 422) from None
    return _Event(
        event_hash=hashlib.sha256(payload.encode()).hexdigest(),
        run_id=_run_id(run.get("runId"), "run.runId"),
        event_type=event_type,
        event_time=_event_time(event["eventTime"]),
        job_namespace=job_namespace,
        job_name=_name(job.get("name"), "job.name", NAME_MAX_BYTES),
        producer=event["producer"],
        team=team_of(job_namespace),
        payload=payload,
        parent_run_id=_run_id(parent_run["runId"], "run.facets.parent.run.runId") if "runId" in parent_run else None,
        decision_id=decision_id,
        allow=allow,
        datasets=(*_datasets(event, "inputs", "input"), *_datasets(event, "outputs", "output")),
    )


def _required_object(event: dict[str, Any], key: str) -> dict[str, Any]:
    if not isinstance(event.get(key), dict):
        raise RecordError(f"{key} is required and must be an object", 422)
    return event[key]


def _optional_object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"{where} must be an object", 422)
    return value


def _name(value: Any, where: str, max_bytes: int) -> str:
    if not isinstance(value, str) or not value:
        raise RecordError(f"{where} is required and must be a non-empty string", 422)
    if len(value) * 4 > max_bytes and len(value.encode()) > max_bytes:  # UTF-8 takes at most 4 bytes a character
        raise RecordError(f"{where} is longer than {max_bytes} bytes", 422)
    return value


def _run_id(value: Any, where: str) -> str:
    """Run ids are UUIDs (the spec says so); the canonical form makes parent and child ids join."""
    if isinstance(value, str) and CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise RecordError(f"{where} must be a UUID", 422) from None


def _event_time(value: str) -> datetime:
    """RFC 3339 requires an offset; stored in UTC, so SQLite's text timestamps compare in time order."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"eventTime {value!r} is not an RFC 3339 timestamp", 422) from None
    if moment.tzinfo is None:
        raise RecordError(f"eventTime {value!r} has no UTC offset", 422)
    return moment.astimezone(timezone.utc)


def _datasets(event: dict[str, Any], key: str, direction: str) -> list[tuple[str, str, str]]:
    datasets = event.get(key) or []
    if not isinstance(datasets, list):
        raise RecordError(f"{key} must be a list", 422)
    found = []
    for position, dataset in enumerate(datasets):
        if not isinstance(dataset, dict):
            raise RecordError(f"{key}[{position}] must be an object", 422)
        found.append((
            direction,
            _name(dataset.get("namespace"), f"{key}[{position}].namespace", NAMESPACE_MAX_BYTES),
            _name(dataset.get("name"), f"{key}[{position}].name", NAME_MAX_BYTES),
        ))
    return found


# --- storing -----------------------------------------------------------------------------------------


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

    def absorb(self, event: _Event) -> None:
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


def _store_batch(session: Session, batch: list[_Event]) -> int:
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
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")  # negative: KiB
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def _store(session: Session, parsed: list[_Event]) -> int:
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
    for event in new:
        runs.setdefault(event.run_id, _RunChange(event.run_id, event.job_namespace, event.job_name, event.team)).absorb(event)
    upsert = insert(RUNS)
    session.execute(upsert.on_conflict_do_update(index_elements=["run_id"], set_=_merge(upsert.excluded)), [vars(run) for run in runs.values()])
    return len(new)


def _dialect_insert(session: Session) -> Callable[[Table], Any]:
    """INSERT … ON CONFLICT is spelled alike by both databases but built by each dialect's own insert()."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _insert_events(session: Session, events: list[_Event]) -> list[_Event]:
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


def _check_runs_keep_their_job(session: Session, parsed: list[_Event]) -> None:
    """A run belongs to one job; an event that moves it (a mistaken or forged run id) is refused rather
    than letting the run appear under two jobs, possibly of two teams."""
    jobs: dict[str, tuple[str, str]] = {}
    for event in parsed:
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


# --- querying ----------------------------------------------------------------------------------------


class Node(NamedTuple):
    kind: str  # "dataset" or "job"
    namespace: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.namespace}:{self.name}"


def _visible(team: str | None, visible_teams: set[str] | None) -> bool:
    return visible_teams is None or team is None or team in visible_teams


def _run_visible(visible_teams: set[str]) -> ColumnElement[bool]:
    return or_(RUNS.c.team.is_(None), RUNS.c.team.in_(sorted(visible_teams)))


def _find_node(session: Session, node_id: str, visible_teams: set[str] | None) -> Node:
    """Namespaces are often URIs with colons (`postgres://host:5432`), so `<kind>:<namespace>:<name>` is
    split at each colon in turn; the stored node with the longest namespace wins."""
    kind, _, rest = node_id.partition(":")
    if kind not in ("dataset", "job") or ":" not in rest:
        raise RecordError("nodeId must be dataset:<namespace>:<name> or job:<namespace>:<name>", 422)
    candidates = [
        (rest[:colon], rest[colon + 1:]) for colon, char in enumerate(rest)
        if char == ":" and 0 < len(rest[:colon].encode()) <= NAMESPACE_MAX_BYTES and 0 < len(rest[colon + 1:].encode()) <= NAME_MAX_BYTES
    ]
    if kind == "dataset":
        namespace_column, name_column = EDGES.c.dataset_namespace, EDGES.c.dataset_name
    else:
        namespace_column, name_column = RUNS.c.job_namespace, RUNS.c.job_name
    found = set()
    for start in range(0, len(candidates), _IN_CHUNK // 2):
        chunk = candidates[start:start + _IN_CHUNK // 2]
        matches = or_(*(and_(namespace_column == namespace, name_column == name) for namespace, name in chunk))
        found.update((namespace, name) for namespace, name in session.execute(select(namespace_column, name_column).where(matches).distinct()))
    if found:
        namespace, name = max(found, key=lambda pair: len(pair[0]))
        if kind == "dataset" or _visible(team_of(namespace), visible_teams):
            return Node(kind, namespace, name)
    raise RecordError(f"no lineage node {node_id}", 404)


def _edges_of(session: Session, node: Node, visible_teams: set[str] | None) -> Iterator[tuple[Node, Node]]:
    """A node's edges, each read from one covering index; jobs hidden from the caller are left out."""
    if node.kind == "dataset":
        jobs = select(EDGES.c.direction, EDGES.c.job_namespace, EDGES.c.job_name).where(
            EDGES.c.dataset_namespace == node.namespace, EDGES.c.dataset_name == node.name).distinct()
        for direction, namespace, name in session.execute(jobs):
            if _visible(team_of(namespace), visible_teams):
                job = Node("job", namespace, name)
                yield (node, job) if direction == "input" else (job, node)
    else:
        datasets = select(EDGES.c.direction, EDGES.c.dataset_namespace, EDGES.c.dataset_name).where(
            EDGES.c.job_namespace == node.namespace, EDGES.c.job_name == node.name).distinct()
        for direction, namespace, name in session.execute(datasets):
            dataset = Node("dataset", namespace, name)
            yield (dataset, node) if direction == "input" else (node, dataset)


def _node_data(session: Session, node: Node) -> dict[str, Any]:
    data: dict[str, Any] = {"id": {"namespace": node.namespace, "name": node.name}, "namespace": node.namespace, "name": node.name}
    if node.kind == "job":
        latest = session.execute(
            select(RUNS).where(RUNS.c.job_namespace == node.namespace, RUNS.c.job_name == node.name)
            .order_by(RUNS.c.state_time.desc().nulls_last()).limit(1)
        ).first()
        data.update(team=team_of(node.namespace), latestRun=_run_summary(latest) if latest else None)
    return data


def _dataset_exists(session: Session, namespace: str, name: str) -> bool:
    any_edge = select(EDGES.c.run_id).where(EDGES.c.dataset_namespace == namespace, EDGES.c.dataset_name == name).limit(1)
    return session.execute(any_edge).first() is not None


def _datasets_of(session: Session, run_id: str, direction: str) -> list[tuple[str, str]]:
    query = (
        select(EDGES.c.dataset_namespace, EDGES.c.dataset_name)
        .where(EDGES.c.run_id == run_id, EDGES.c.direction == direction)
        .order_by(EDGES.c.dataset_namespace, EDGES.c.dataset_name)
    )
    return [(namespace, name) for namespace, name in session.execute(query)]


def _producer(session: Session, namespace: str, name: str, consumer: Row) -> Row | None:
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
    return session.execute(query.order_by(activity.desc().nulls_last()).limit(1)).first()


def _run_summary(run: Row) -> dict[str, Any]:
    return {
        "runId": run.run_id,
        "job": {"namespace": run.job_namespace, "name": run.job_name},
        "team": run.team,
        "state": run.state,
        "stateTime": _iso(run.state_time),
        "startedAt": _iso(run.started_at),
        "endedAt": _iso(run.ended_at),
        "parentRunId": run.parent_run_id,
        "decisionId": run.decision_id,
        "allow": run.allow,
    }


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None
