"""Questions asked of the lineage store, read from its derived tables: the graph around a node, a
dataset's readers, a run's upstream, and the export of stored events.

A job namespace `govern.<team>` belongs to that team: a caller confined to its own team sees neither other
teams' govern jobs nor the edges through them; datasets and other producers' jobs are visible to everyone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, NamedTuple, get_args

from sqlalchemy import ColumnElement, Row, and_, func, or_, select
from sqlmodel import Session

from govern.lineage.limits import NAME_MAX_BYTES, NAMESPACE_MAX_BYTES
from govern.lineage.marquez import nodes as marquez_nodes
from govern.lineage.marquez import reads as marquez_reads
from govern.lineage.store.ingest import run_id as canonical_run_id
from govern.lineage.store.ingest import team_of
from govern.lineage.store.write import EDGES, EVENTS, RUNS
from govern.records.errors import RecordError, as_utc

MAX_DEPTH = 20
Direction = Literal["both", "upstream", "downstream"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)
EXPORT_PAGE = 1000
_IN_CHUNK = 500  # parameters per IN (...) list, well under SQLite's limit


def graph(
    session: Session, node_id: str, depth: int, visible_teams: set[str] | None, *,
    direction: Direction = "both", max_nodes: int | None = None,
) -> dict[str, Any]:
    """The lineage graph around a node in Marquez's shape, `depth` job↔dataset hops out (breadth first). A
    job reading a dataset is the edge dataset→job, a job writing one job→dataset. `direction` "upstream"
    follows only the edges into each node (what it came from), "downstream" only those out of it; with
    `max_nodes` the walk stops there and the answer says whether it was `truncated`."""
    if not 0 <= depth <= MAX_DEPTH:
        raise RecordError(f"depth must be between 0 and {MAX_DEPTH}", 422)
    if direction not in DIRECTIONS:
        raise RecordError(f"direction must be one of {', '.join(DIRECTIONS)}", 422)
    start = find_node(session, node_id, visible_teams)
    order, seen, frontier, truncated = [start], {start}, [start], False
    edges: set[tuple[Node, Node]] = set()
    for _ in range(depth):
        reached = []
        for node in frontier:
            for edge in _edges_of(session, node, visible_teams):
                if (direction == "upstream" and edge[1] != node) or (direction == "downstream" and edge[0] != node):
                    continue
                other = edge[1] if edge[0] == node else edge[0]
                if other not in seen and max_nodes is not None and len(seen) >= max_nodes:
                    truncated = True
                    continue
                edges.add(edge)
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
    data: dict[tuple[str, str, str], dict[str, Any]] = {}
    for first in range(0, len(order), _IN_CHUNK // 2):
        data.update(marquez_nodes.nodes_data(session, order[first:first + _IN_CHUNK // 2]))
    answer: dict[str, Any] = {"graph": [
        {"id": node.id, "type": node.kind.upper(), "data": data[node],
         "inEdges": incoming[node], "outEdges": outgoing[node]}
        for node in order
    ]}
    if max_nodes is not None:
        answer["truncated"] = truncated
    return answer


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
    root = session.execute(select(RUNS).where(RUNS.c.run_id == canonical_run_id(run_id, "run id"))).first()
    if root is None or not _visible(root.team, visible_teams):
        raise RecordError(f"no run {run_id} in the lineage store", 404)
    entries, seen, queue = [], {root.run_id}, deque([(root, 0)])
    while queue:
        run, level = queue.popleft()
        inputs = []
        for namespace, name in _datasets_of(session, run.run_id, "input"):
            producer = marquez_reads.producer(session, namespace, name, run)
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


def find_node(session: Session, node_id: str, visible_teams: set[str] | None) -> Node:
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
    found: set[tuple[str, str]] = set()
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


def _run_summary(run: Row[Any]) -> dict[str, Any]:
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
