"""`/ui/lineage`: the lineage graph of datasets → experiment runs → results around a start node, picked by
searching a dataset's or a job's name; `/ui/lineage/graph.json`: that graph for the page's script to draw,
with each node's facets (classification, decision, quantum job, procurement). Both read the lineage store
through the functions the API's lineage routes call, and see what `lineage.read` lets the API see."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlmodel import Session

from govern.api.deps import ReadSessionDep
from govern.api.routes.lineage import visible_teams
from govern.console.deps import ConsoleJsonRoute, ConsoleRoute, SignedInDep
from govern.console.lineage_graph import MAX_NODES, console_graph
from govern.console.params import DepthQuery, DirectionQuery, NodeQuery, SearchQuery
from govern.console.templating import render
from govern.lineage.marquez import search
from govern.lineage.store import query

router = APIRouter(prefix="/ui/lineage", route_class=ConsoleRoute)

DEFAULT_DEPTH = 2
"""From a run: its datasets and results and their other runs; from a dataset: its runs and their results."""
SEARCH_LIMIT = 25

@router.get("", include_in_schema=False)
def lineage(
    request: Request, signed_in: SignedInDep, session: ReadSessionDep,
    node: NodeQuery = None, q: SearchQuery = None, depth: DepthQuery = None, direction: DirectionQuery = None,
) -> HTMLResponse:
    """The search form and, with a start node, the graph's container; without one, the jobs updated last."""
    depth = DEFAULT_DEPTH if depth is None else depth
    teams = visible_teams(request.app.state.engine, signed_in.token)
    start = query.find_node(session, node, teams).id if node else None
    found = _search(session, q, teams, "NAME", None) if q else None
    recent = _search(session, "", teams, "UPDATE_AT", "JOB") if start is None and not q else None
    asked = {"node": start or "", "q": q or "", "depth": depth, "direction": direction or "both"}
    graph_url = "/ui/lineage/graph.json?" + urlencode({"node": start, "depth": depth, "direction": asked["direction"]}) if start else None
    return render(request, "lineage.html", start=start, found=found, recent=recent, asked=asked, teams=teams, graph_url=graph_url,
                  max_depth=query.MAX_DEPTH, max_nodes=MAX_NODES)


def _search(session: Session, text: str, teams: set[str] | None, sort: str, kind: str | None) -> dict[str, Any]:
    """Marquez's search, as `GET /api/v1/search` answers it."""
    return search.search(session, text, teams, kind=kind, sort=sort, limit=SEARCH_LIMIT, namespace=None, before=None, after=None)


def graph_json(
    request: Request, signed_in: SignedInDep, session: ReadSessionDep,
    node: Annotated[str, Query(min_length=1, max_length=2000)], depth: DepthQuery = None, direction: DirectionQuery = None,
) -> JSONResponse:
    """The graph around `node` with each node's side panel, at most `MAX_NODES` nodes (`truncated` says so)."""
    teams = visible_teams(request.app.state.engine, signed_in.token)
    return JSONResponse(console_graph(session, node, DEFAULT_DEPTH if depth is None else depth, direction or "both", teams))


router.add_api_route("/graph.json", graph_json, methods=["GET"], include_in_schema=False, route_class_override=ConsoleJsonRoute)
