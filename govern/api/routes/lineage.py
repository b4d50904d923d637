"""The lineage store over HTTP, at Marquez's paths so OpenLineage clients and tools need no changes:
producers post run and static events, readers ask for the graph, a dataset's readers, a run's upstream, an export.

Readers confined to their own team (`lineage.read` for their team only) do not see other teams' govern
jobs; those who may read any team's lineage see everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from govern.api.deps import PolicyEngineDep, SessionDep, TokenDep, authorization, require
from govern.api.lineage_body import read_event
from govern.api.params import EventId
from govern.api.refusals import refusals
from govern.api.streams import JsonLines, jsonl_error, prefetched, streamed
from govern.db.database import reading
from govern.db.public import TokenPublic
from govern.lineage import owner
from govern.lineage.store import query, write
from govern.lineage.store.ingest import parse
from govern.policy.engines import PolicyEngine

router = APIRouter(prefix="/api/v1/lineage", tags=["lineage"])
ENCODED_PATHS = frozenset({"/api/v1/lineage"})
"""Where a gzip body is accepted (the body middleware refuses encodings elsewhere); `read_event` inflates it."""

Depth = Annotated[int, Query(ge=0, le=query.MAX_DEPTH, description="Job↔dataset hops from the node.")]


EVENT_BODY = {
    "required": True,
    "description": "An OpenLineage RunEvent, JobEvent or DatasetEvent (spec 2-0-x), as JSON; `Content-Encoding: gzip` accepted.",
    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
}


EVENT_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Stored before: a redelivery, nothing changed"},
    400: {"description": "A gzip body that is corrupt, truncated or followed by other data"},
    403: {"description": "Not permitted, or the event claims govern's own namespaces, facets or runs"},
    409: {"description": "The run belongs to another job"},
    413: {"description": "The body, or the gzip body once inflated, is over GOVERN_MAX_REQUEST_BYTES"},
    415: {"description": "A Content-Encoding other than gzip"},
    422: {"description": "Not an OpenLineage event the store can hold (the reason names the field)"},
}


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra={"requestBody": EVENT_BODY}, responses=EVENT_ERRORS)
async def post_event(request: Request, response: Response, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> dict[str, Any]:
    """Store an event (producers, admins, govern services): 201 when stored, 200 when it was stored before.
    Only govern writes its own namespaces, facets and runs; a claim on them from anyone else is a 403."""
    await run_in_threadpool(require, engine, token, "lineage.write", {"team": token.team})
    event = await read_event(request, request.app.state.settings.max_request_bytes)
    stored = await run_in_threadpool(_store, session, engine, token, event)
    if not stored:
        response.status_code = status.HTTP_200_OK
    return {"stored": stored}


def _store(session: Session, engine: PolicyEngine, token: TokenPublic, event: Any) -> bool:
    parsed = parse(event)
    claimed = owner.claim(session, event, parsed)
    if claimed is not None:
        answer = authorization(engine, token, "lineage.write_owned", {"team": parsed.team or "*"})
        if not answer.allow:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{claimed}: only govern itself writes it, with a `service` token ({answer.reason})")
    stored = write.ingest_parsed(session, parsed)
    session.commit()
    return stored


@router.get("", responses=refusals(403, 404, 422))
def get_graph(
    token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    node_id: Annotated[str, Query(alias="nodeId", max_length=2000, description="dataset:<namespace>:<name> or job:<namespace>:<name>")],
    depth: Depth = query.MAX_DEPTH,
) -> dict[str, Any]:
    """The lineage graph around a node, in Marquez's shape."""
    return query.graph(session, node_id, depth, visible_teams(engine, token))


@router.get("/datasets/{dataset:path}/runs", responses=refusals(403, 404))
def get_dataset_runs(
    request: Request, token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    dataset: Annotated[str, Path(description="<namespace>/<name>, each URL-encoded.")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The runs that read a dataset, with state and policy decision: `/datasets/<namespace>/<name>/runs`,
    each URL-encoded (`s3%3A%2F%2Fbucket`); the two are read from the raw path, `dataset` only documents it."""
    teams = visible_teams(engine, token)
    namespace, name = _dataset_in_path(request)
    return query.dataset_runs(session, namespace, name, teams, limit)


@router.get("/runs/{run_id}/upstream", responses=refusals(403, 404, 422))
def get_run_upstream(
    run_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    depth: Annotated[int, Query(ge=1, le=query.MAX_DEPTH)] = query.MAX_DEPTH,
) -> dict[str, Any]:
    """Everything a run's outputs came from: its inputs, the runs that produced them, and so on."""
    return query.run_upstream(session, run_id, visible_teams(engine, token), depth)


@router.get("/events", response_class=JsonLines, responses=refusals(403))
def export_events(
    request: Request, token: TokenDep, engine: PolicyEngineDep, session: SessionDep,
    since: EventId = 0,
) -> StreamingResponse:
    """Stored events as JSON Lines, oldest first. The export ends at the event that was last when it began;
    header `X-Lineage-Last-Id` names it, to pass as `since` next time."""
    teams = visible_teams(engine, token)
    last_id = write.last_event_id(session)
    session.commit()  # end the request's transaction: the export reads on its own

    def lines() -> Iterator[str]:
        with Session(reading(request.app.state.db)) as reader:
            for payload in query.events(reader, since, until_id=last_id, visible_teams=teams):
                yield payload + "\n"

    return streamed(prefetched(lines()), "application/x-ndjson", jsonl_error, headers={"X-Lineage-Last-Id": str(last_id)})


def visible_teams(engine: PolicyEngine, token: TokenPublic) -> set[str] | None:
    """None (everything) for a token that may read another team's lineage; else its own team only."""
    require(engine, token, "lineage.read", {"team": token.team})
    return None if authorization(engine, token, "lineage.read", {"team": "*"}).allow else {token.team}


def _dataset_in_path(request: Request) -> tuple[str, str]:
    """Dataset namespaces are often URIs, so clients encode their '/' as %2F; the decoded route path has
    lost which slashes separate the parts, the raw path has not."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    segments = raw_path.decode("utf-8", "replace").split("/")
    if len(segments) < 5 or segments[-4] != "datasets":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "use /datasets/<namespace>/<name>/runs with '/' in either encoded as %2F")
    return unquote(segments[-3]), unquote(segments[-2])
