"""The lineage graph as the console draws it: the store's graph (`govern.lineage.store.query.graph`, the
one the API answers), bounded to `MAX_NODES`, each node reduced to what its side panel shows.

Facets are whatever producers sent, so only govern's facets and OpenLineage's standard ones are read, by
name, and only their scalar values, each cut to `MAX_TEXT` characters: the page never renders a producer's
markup or an unbounded value.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from sqlmodel import Session

from govern.lineage.facets import (
    GovernDataClassificationDatasetFacet,
    GovernPolicyDecisionRunFacet,
    GovernProcurementRunFacet,
    GovernQuantumJobRunFacet,
)
from govern.lineage.store import query

MAX_NODES = 150
"""Nodes in one drawing: enough for an experiment's neighbourhood, few enough for a phone to lay out."""
MAX_TEXT = 300
MAX_LIST = 20

Facts = list[tuple[str, tuple[str, ...]]]
"""(label, path into the facet) of each value a panel section shows."""

CLASSIFICATION: Facts = [("Level", ("level",)), ("Contains PII", ("containsPII",)), ("Pseudonymized", ("pseudonymized",)),
                         ("Residency", ("residency",))]
DECISION: Facts = [("Outcome", ("outcome",)), ("Denied by", ("ruleIds",)), ("Warned by", ("warnRuleIds",)),
                   ("Bundle revision", ("bundleRevision",)), ("Input hash", ("inputHash",)), ("Engine", ("engine",)),
                   ("Evaluated", ("evaluatedAt",))]
QUANTUM_JOB: Facts = [("Vendor", ("vendor",)), ("Device", ("device",)), ("Shots", ("shots",)), ("Qubits", ("circuit", "qubits")),
                      ("Depth", ("circuit", "depth")), ("Two-qubit depth", ("circuit", "twoQubitDepth")),
                      ("Circuit sha256", ("circuit", "sha256")), ("Transpiled qubits", ("transpiled", "qubits")),
                      ("Transpiled depth", ("transpiled", "depth")), ("Transpiler seed", ("seedTranspiler",)),
                      ("Simulator seed", ("seedSimulator",)), ("Calibration snapshot", ("calibrationSnapshotId",))]
PROCUREMENT: Facts = [("Vendor", ("vendor",)), ("Sandbox", ("sandbox",)), ("Estimated cost", ("estimatedCost",)),
                      ("Actual cost", ("actualCost",)), ("Currency", ("currency",))]
RUN: Facts = [("Run id", ("id",)), ("State", ("state",)), ("Started", ("startedAt",)), ("Ended", ("endedAt",)),
              ("Derived from run", ("parentRunId",))]
JOB: Facts = [("Purpose", ("description",)), ("Source", ("location",)), ("Team", ("team",))]
SOURCE: Facts = [("Name", ("name",)), ("URI", ("uri",))]
DATASET: Facts = [("Description", ("description",)), ("Fields", ("fields", "name")), ("Last written", ("lastModifiedAt",))]
ERROR: Facts = [("Message", ("message",))]
RUN_FACETS: tuple[tuple[str, str, Facts], ...] = (("Decision", GovernPolicyDecisionRunFacet.facet_key, DECISION), ("Quantum job", GovernQuantumJobRunFacet.facet_key, QUANTUM_JOB),
              ("Procurement", GovernProcurementRunFacet.facet_key, PROCUREMENT), ("Error", "errorMessage", ERROR))


def console_graph(session: Session, node_id: str, depth: int, direction: query.Direction, teams: set[str] | None) -> dict[str, Any]:
    """The graph around `node_id` for the console: nodes with their panels and links, edges, and whether
    `MAX_NODES` cut it short."""
    found = query.graph(session, node_id, depth, teams, direction=direction, max_nodes=MAX_NODES)
    nodes = [_node(entry, depth) for entry in found["graph"]]
    edges = [{"source": link["origin"], "target": link["destination"]} for entry in found["graph"] for link in entry["outEdges"]]
    return {"start": nodes[0]["id"], "depth": depth, "direction": direction, "truncated": found["truncated"],
            "maxNodes": MAX_NODES, "nodes": nodes, "edges": edges}


def page_of(node_id: str, depth: int, direction: str) -> str:
    return "/ui/lineage?" + urlencode({"node": node_id, "depth": depth, "direction": direction})


def _node(entry: dict[str, Any], depth: int) -> dict[str, Any]:
    data = _object(entry.get("data"))
    node_id = entry["id"]
    if entry["type"] == "JOB":
        kind, sections, decision = "run", _job_sections(data), _decision(data.get("latestRun"))
    else:
        kind, sections, decision = "result" if data.get("currentVersion") else "dataset", _dataset_sections(data), None
    links = [{"label": "Centre the graph here", "href": page_of(node_id, depth, "both")}]
    if kind != "dataset":
        links.append({"label": "Everything upstream of this", "href": page_of(node_id, query.MAX_DEPTH, "upstream")})
    if decision is not None:
        links.insert(0, {"label": f"Decision: {decision['outcome']}", "href": f"/ui/decisions/{quote(decision['id'], safe='')}"})
    if kind == "run" and (sandbox := _sandbox(data.get("latestRun"))):
        links.insert(1 if decision is not None else 0, {"label": f"Sandbox {sandbox}", "href": f"/ui/sandboxes/{quote(sandbox, safe='')}"})
    return {"id": node_id, "kind": kind, "name": _text(data.get("name")), "namespace": _text(data.get("namespace")),
            "team": _text(data.get("team")), "decision": decision, "sections": sections, "links": links}


def _job_sections(data: dict[str, Any]) -> list[dict[str, Any]]:
    sections = [_section("Experiment", data, JOB)]
    run = data.get("latestRun")
    if isinstance(run, dict):
        sections.append(_section("Latest run", run, RUN))
        facets = _object(run.get("facets"))
        sections.extend(_section(title, facets.get(key), facts) for title, key, facts in RUN_FACETS)
    return [section for section in sections if section["facts"]]


def _dataset_sections(data: dict[str, Any]) -> list[dict[str, Any]]:
    facets = _object(data.get("facets"))
    sections = [_section("Classification", facets.get(GovernDataClassificationDatasetFacet.facet_key), CLASSIFICATION),
                _section("Source", facets.get("dataSource"), SOURCE),
                _section("Dataset", data, DATASET)]
    return [section for section in sections if section["facts"]]


def _decision(run: Any) -> dict[str, str] | None:
    """The decision on the run: its id from the store's row, its outcome from the run's decision facet."""
    if not isinstance(run, dict) or not isinstance(run.get("decisionId"), str):
        return None
    facet = _object(run.get("facets")).get(GovernPolicyDecisionRunFacet.facet_key)
    outcome = _text(_object(facet).get("outcome"))
    return {"id": run["decisionId"][:MAX_TEXT], "outcome": outcome or ("allowed" if run.get("allow") else "denied")}


def _sandbox(run: Any) -> str | None:
    """The sandbox that paid for the run, from its procurement facet."""
    facet = _object(_object(run).get("facets")).get(GovernProcurementRunFacet.facet_key)
    return _text(_object(facet).get("sandbox"))


def _section(title: str, source: Any, facts: Facts) -> dict[str, Any]:
    shown = []
    for label, path in facts if isinstance(source, dict) else ():
        value = _value(source, path)
        if value is not None:
            shown.append([label, value])
    return {"title": title, "facts": shown}


def _value(source: Any, path: tuple[str, ...]) -> str | None:
    """The scalar at `path`, as text; a list's scalars (or, for a list of objects, the named key of each)
    joined, at most `MAX_LIST` of them."""
    for position, key in enumerate(path):
        if isinstance(source, list):
            items = [_text(item.get(key)) if isinstance(item, dict) else None for item in source[:MAX_LIST]]
            return _joined(items) if position == len(path) - 1 else None
        source = source.get(key) if isinstance(source, dict) else None
    if isinstance(source, list):
        return _joined([_text(item) for item in source[:MAX_LIST]])
    return _text(source)


def _joined(items: list[str | None]) -> str | None:
    present = [item for item in items if item]
    return ", ".join(present)[:MAX_TEXT] or None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (str, int, float)):
        return str(value)[:MAX_TEXT]
    return None
