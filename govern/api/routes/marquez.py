"""Marquez's read API (its `/api/v1` paths, shapes and paging) over govern's lineage store, so
marquez-python and Marquez's web UI read govern as they read Marquez. Errors are Marquez's shape,
`{"code": 404, "message": "..."}` (with govern's `detail` beside it).

Names in a path are URL-encoded by the clients (`s3%3A%2F%2Flake`), so a `/` inside a namespace or name is
`%2F`: the routes under `/namespaces/` read the raw path, the decoded one has lost where the parts end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from govern.api.deps import PolicyEngineDep, SessionDep, TokenDep
from govern.api.refusals import refusals
from govern.api.routes.lineage import visible_teams
from govern.lineage.limits import NAME_MAX_BYTES, NAMESPACE_MAX_BYTES
from govern.lineage.marquez import columns, datasets, reads, search
from govern.lineage.store.query import MAX_DEPTH
from govern.records.errors import RecordError

router = APIRouter(prefix="/api/v1", tags=["marquez"])

MAX_LIMIT = 1000
Limit = Annotated[int, Query(ge=0, le=MAX_LIMIT, description=f"Results per page (at most {MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Results to skip.")]


def _answer(read: Callable[[], dict[str, Any]]) -> Any:
    try:
        return read()
    except RecordError as exc:
        return JSONResponse({"code": exc.status, "message": str(exc), "detail": str(exc)}, exc.status)


@router.get("/namespaces", responses=refusals(403, 422))
def list_namespaces(token: TokenDep, engine: PolicyEngineDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0) -> Any:
    """Namespaces: of jobs and of datasets; a submitter sees no other team's `govern.<team>`."""
    return _answer(lambda: reads.namespaces(session, visible_teams(engine, token), limit, offset))


@router.get("/namespaces/{path:path}", responses=refusals(403, 404, 422))
def namespace_paths(
    request: Request, token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    path: Annotated[str, Path(description="`<ns>`, `<ns>/jobs`, `<ns>/jobs/<job>`, `<ns>/jobs/<job>/runs`, `<ns>/datasets`, "
                                          "`<ns>/datasets/<ds>`, `<ns>/datasets/<ds>/versions[/<version>]`, each part URL-encoded.")],
    limit: Limit = 100, offset: Offset = 0,
) -> Any:
    """A namespace, its jobs (with their runs) and its datasets (with their versions), in Marquez's shapes."""
    teams = visible_teams(engine, token)
    return _answer(lambda: _namespace_path(session, _parts(request), teams, limit, offset))


def _namespace_path(session: Session, parts: list[str], teams: reads.Teams, limit: int, offset: int) -> dict[str, Any]:
    match parts:
        case [namespace]:
            return reads.namespace(session, namespace, teams)
        case [namespace, "jobs"]:
            return reads.jobs(session, namespace, teams, limit, offset)
        case [namespace, "jobs", job]:
            return reads.job(session, namespace, job, teams)
        case [namespace, "jobs", job, "runs"]:
            return reads.job_runs(session, namespace, job, teams, limit, offset)
        case [namespace, "datasets"]:
            return datasets.datasets(session, namespace, teams, limit, offset)
        case [namespace, "datasets", name]:
            return datasets.dataset(session, namespace, name, teams)
        case [namespace, "datasets", name, "versions"]:
            return datasets.versions(session, namespace, name, teams, limit, offset)
        case [namespace, "datasets", name, "versions", version]:
            return datasets.version(session, namespace, name, version, teams)
    raise RecordError("no such path under /api/v1/namespaces (see the API reference)", 404)


def _parts(request: Request) -> list[str]:
    """The decoded parts after `/namespaces/`, each held to the store's bounds (longer could not exist)."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    _, found, rest = raw_path.decode("utf-8", "replace").partition("/namespaces/")
    if not found:
        raise RecordError("use /api/v1/namespaces/<namespace>[/...]", 404)
    parts = [unquote(part) for part in rest.split("/")]
    for position, part in enumerate(parts):
        bound = NAMESPACE_MAX_BYTES if position == 0 else NAME_MAX_BYTES
        if not part or len(part.encode()) > bound:
            raise RecordError(f"each part of the path must be 1 to {bound} bytes", 422)
    return parts


@router.get("/jobs/runs/{run_id}", responses=refusals(403, 404, 422))
def get_run(run_id: Annotated[str, Path(max_length=64)], token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> Any:
    """A run, by its id, in Marquez's shape (its state COMPLETED, FAILED, ABORTED, RUNNING or NEW)."""
    return _answer(lambda: reads.run(session, run_id, visible_teams(engine, token)))


@router.get("/search", responses=refusals(403, 422))
def search_lineage(
    token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=NAME_MAX_BYTES, description="A part of the name, any case.")],
    filter: Annotated[Literal["DATASET", "JOB"] | None, Query(description="Only datasets or only jobs.")] = None,
    sort: Literal["NAME", "UPDATE_AT"] = "NAME",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
    namespace: Annotated[str | None, Query(max_length=NAMESPACE_MAX_BYTES)] = None,
    before: date | None = None, after: date | None = None,
) -> Any:
    """Jobs and datasets whose name contains `q`, with `totalCount`."""
    teams = visible_teams(engine, token)
    return _answer(lambda: search.search(session, q, teams, kind=filter, sort=sort, limit=limit, namespace=namespace, before=before, after=after))


@router.get("/events/lineage", responses=refusals(403, 422))
def list_lineage_events(
    token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    before: datetime | None = None, after: datetime | None = None,
    sortDirection: Literal["asc", "desc"] = "desc", limit: Limit = 100, offset: Offset = 0,  # noqa: N803 (Marquez's name)
) -> Any:
    """The stored OpenLineage events by event time, with `totalCount`; marquez-python's `list_events` asks
    `/events`, which answers the same."""
    teams = visible_teams(engine, token)
    return search.lineage_events(session, teams, before=before, after=after, descending=sortDirection == "desc", limit=limit, offset=offset)


router.add_api_route("/events", list_lineage_events, methods=["GET"], responses=refusals(403, 422), include_in_schema=False)


@router.get("/events/{namespace:path}", include_in_schema=False, responses=refusals(403, 422))
def list_namespace_events(
    namespace: Annotated[str, Path(max_length=NAMESPACE_MAX_BYTES)], token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    limit: Limit = 100, offset: Offset = 0,
) -> Any:
    """marquez-python's `list_events(namespace)`: the events of that namespace's jobs, newest first."""
    teams = visible_teams(engine, token)
    return search.lineage_events(session, teams, before=None, after=None, descending=True, limit=limit, offset=offset, namespace=namespace)


@router.get("/sources", responses=refusals(403, 422))
def list_sources(token: TokenDep, engine: PolicyEngineDep, session: SessionDep, limit: Limit = 100, offset: Offset = 0) -> Any:
    """Sources, as Marquez names them for OpenLineage datasets: one per dataset namespace."""
    return _answer(lambda: datasets.sources(session, visible_teams(engine, token), limit, offset))


@router.get("/sources/{name:path}", responses=refusals(403, 404, 422))
def get_source(name: Annotated[str, Path(max_length=NAMESPACE_MAX_BYTES)], token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> Any:
    """One source (a dataset namespace; a `/` in it encoded as %2F)."""
    return _answer(lambda: datasets.source(session, name, visible_teams(engine, token)))


@router.get("/column-lineage", responses=refusals(403, 404, 422))
def get_column_lineage(
    token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    node_id: Annotated[str, Query(alias="nodeId", max_length=2000, description="dataset:, datasetField: or job:<namespace>:<name>[:<field>]")],
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH)] = MAX_DEPTH,
    with_downstream: Annotated[bool, Query(alias="withDownstream", description="Accepted; the answer is upstream only.")] = False,
) -> Any:
    """The fields a dataset's fields were derived from (OpenLineage's columnLineage facet), upstream."""
    teams = visible_teams(engine, token)
    return _answer(lambda: columns.column_lineage(session, node_id.split("#", 1)[0], depth, teams))


@router.get("/tags", responses=refusals(403, 422))
def list_tags(token: TokenDep, engine: PolicyEngineDep, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Marquez's tags: govern's store keeps none (OpenLineage events carry no Marquez tags)."""
    visible_teams(engine, token)
    return {"tags": [], "totalCount": 0}
