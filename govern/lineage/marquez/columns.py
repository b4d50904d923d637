"""Marquez's column lineage (`GET /api/v1/column-lineage`) from the OpenLineage `columnLineage` dataset
facets in the store: each field of a dataset, the input fields it was derived from, and theirs, `depth`
levels upstream. Only upstream: finding a field's consumers would mean reading every dataset's facets."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from govern.lineage.marquez import datasets, reads
from govern.lineage.store import query
from govern.records.errors import RecordError

MAX_NODES = 5000
"""Fields in one answer; a hostile facet web cannot make it unbounded."""


def column_lineage(session: Session, node_id: str, depth: int, teams: reads.Teams) -> dict[str, Any]:
    """The graph of dataset fields upstream of a dataset (`dataset:`), one of its fields (`datasetField:
    <ns>:<name>:<field>`) or a job's outputs (`job:`)."""
    kind, _, rest = node_id.partition(":")
    if kind == "datasetField":
        dataset_id, _, field = rest.rpartition(":")
        node = query.find_node(session, f"dataset:{dataset_id}", teams)
        start = [(node.namespace, node.name, field)]
    elif kind in ("dataset", "job"):
        node = query.find_node(session, node_id, teams)
        targets = [(node.namespace, node.name)] if kind == "dataset" else [
            (output["namespace"], output["name"]) for output in reads.job_data(session, node.namespace, node.name)["outputs"]]
        start = [(namespace, name, field) for namespace, name in targets for field in _fields(session, namespace, name)]
    else:
        raise RecordError("nodeId must be dataset:, datasetField: or job:<namespace>:<name>", 422)
    cache: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    nodes: dict[str, dict[str, Any]] = {}
    frontier = start
    for _ in range(depth + 1):
        reached: list[tuple[str, str, str]] = []
        for namespace, name, field in frontier:
            key = _id(namespace, name, field)
            if key in nodes or len(nodes) >= MAX_NODES:
                continue
            lineage, dataset = _lineage(session, namespace, name, cache)
            nodes[key] = _node(namespace, name, field, lineage.get(field), dataset)
            reached.extend((i["namespace"], i["dataset"], i["field"]) for i in nodes[key]["data"]["inputFields"])
        frontier = reached
    for key, field_node in nodes.items():
        field_node["inEdges"] = [{"origin": origin, "destination": key} for origin in _inputs(field_node) if origin in nodes]
        for edge in field_node["inEdges"]:
            nodes[edge["origin"]]["outEdges"].append(edge)
    return {"graph": list(nodes.values())}


def _fields(session: Session, namespace: str, name: str) -> list[str]:
    """A dataset's fields: those of its schema, then any its column lineage names besides."""
    lineage, dataset = _lineage(session, namespace, name, {})
    schema = [field["name"] for field in dataset["fields"]]
    return schema + [field for field in lineage if field not in schema]


def _id(namespace: str, name: str, field: str) -> str:
    return f"datasetField:{namespace}:{name}:{field}"


def _inputs(node: dict[str, Any]) -> list[str]:
    return [_id(i["namespace"], i["dataset"], i["field"]) for i in node["data"]["inputFields"]]


def _lineage(session: Session, namespace: str, name: str, cache: dict[tuple[str, str], Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dataset's columnLineage fields (by field name) and the dataset; an unknown dataset has neither."""
    if (namespace, name) not in cache:
        dataset = datasets.dataset_data(session, namespace, name)
        facet = dataset["facets"].get("columnLineage")
        fields = facet.get("fields") if isinstance(facet, dict) else None
        cache[(namespace, name)] = (fields if isinstance(fields, dict) else {}, dataset)
    found: tuple[dict[str, Any], dict[str, Any]] = cache[(namespace, name)]
    return found


def _node(namespace: str, name: str, field: str, lineage: Any, dataset: dict[str, Any]) -> dict[str, Any]:
    lineage = lineage if isinstance(lineage, dict) else {}
    inputs = []
    for source in lineage.get("inputFields") or []:
        if isinstance(source, dict) and all(isinstance(source.get(key), str) and source.get(key) for key in ("namespace", "name", "field")):
            transformation = next((t for t in source.get("transformations") or [] if isinstance(t, dict)), {})
            inputs.append({"namespace": source["namespace"], "dataset": source["name"], "datasetVersion": None, "field": source["field"],
                           "transformationDescription": transformation.get("description"), "transformationType": transformation.get("type")})
    field_type = next((f["type"] for f in dataset["fields"] if f["name"] == field), None)
    return {"id": _id(namespace, name, field), "type": "DATASET_FIELD", "data": {
        "namespace": namespace, "dataset": name, "datasetVersion": dataset["currentVersion"], "field": field, "fieldType": field_type,
        "transformationDescription": lineage.get("transformationDescription"), "transformationType": lineage.get("transformationType"),
        "inputFields": inputs,
    }, "inEdges": [], "outEdges": []}
