"""Marquez's JSON shapes (its `service/models`: Namespace, Job, Run, Dataset, DatasetVersion), built from
the store's rows and the stored events of a run. govern's own additions (team, decision) are extra fields.

Facets are read from the events in the order they were stored, a later event's facet replacing an earlier
one of the same name, as Marquez merges them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from govern.records.errors import as_utc

STATES = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "COMPLETED", "FAIL": "FAILED", "ABORT": "ABORTED"}
"""OpenLineage event types to Marquez's run states; OTHER (and no event type yet) leaves a run NEW or RUNNING."""
VERSIONS = uuid.UUID("6d617271-7565-4a00-8000-76657273696f")
"""uuid5 namespace of dataset version ids: a version is what one run wrote, so its id is derived from both."""


def iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None


def run_state(state: str | None, started_at: datetime | None) -> str:
    """Marquez's name for a run's state: COMPLETED, FAILED, ABORTED, RUNNING or NEW."""
    if state in STATES:
        return STATES[state]
    return "RUNNING" if started_at else "NEW"


def dataset_version(namespace: str, name: str, run_id: str) -> str:
    return str(uuid.uuid5(VERSIONS, f"{namespace}\0{name}\0{run_id}"))


def merged_facets(facet_sets: Iterable[Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for facets in facet_sets:
        if isinstance(facets, dict):
            merged.update(facets)
    return merged


def dataset_facets(events: list[dict[str, Any]], namespace: str, name: str) -> dict[str, Any]:
    """The facets the events gave the dataset, wherever they name it (inputs, outputs, a DatasetEvent)."""
    entries = []
    for event in events:
        for dataset in [*(event.get("inputs") or []), *(event.get("outputs") or []), event.get("dataset")]:
            if isinstance(dataset, dict) and dataset.get("namespace") == namespace and dataset.get("name") == name:
                entries.append(dataset.get("facets"))
    return merged_facets(entries)


def fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema facet's fields as Marquez's Field: name, type, tags, description."""
    schema = facets.get("schema")
    found = schema.get("fields") if isinstance(schema, dict) else None
    return [
        {"name": field["name"], "type": field.get("type"), "tags": [], "description": field.get("description")}
        for field in (found if isinstance(found, list) else []) if isinstance(field, dict) and isinstance(field.get("name"), str)
    ]


def _text(facets: dict[str, Any], facet: str, key: str) -> str | None:
    value = facets.get(facet)
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def namespace(name: str, team: str | None, created: datetime | None, updated: datetime | None) -> dict[str, Any]:
    return {"name": name, "createdAt": iso(created), "updatedAt": iso(updated), "ownerName": team or "anonymous",
            "description": None, "isHidden": False, "team": team}


def run(row: Any, events: list[dict[str, Any]], inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Marquez's Run for a `lineage_runs` row: `inputs` are its InputDatasetVersions, `outputs` the
    version ids of what it wrote; its team and decision are govern's additions."""
    facets = merged_facets(event.get("run", {}).get("facets") for event in events)
    nominal = facets["nominalTime"] if isinstance(facets.get("nominalTime"), dict) else {}
    times = [moment for moment in (row.started_at, row.state_time) if moment is not None]
    duration = int((row.ended_at - row.started_at).total_seconds() * 1000) if row.started_at and row.ended_at else None
    return {
        "id": row.run_id, "createdAt": iso(min(times) if times else None), "updatedAt": iso(row.state_time),
        "nominalStartTime": nominal.get("nominalStartTime"), "nominalEndTime": nominal.get("nominalEndTime"),
        "state": run_state(row.state, row.started_at), "startedAt": iso(row.started_at), "endedAt": iso(row.ended_at),
        "durationMs": duration, "args": {}, "jobVersion": None,
        "inputDatasetVersions": inputs,
        "outputDatasetVersions": [{"datasetVersionId": output, "facets": {}} for output in outputs],
        "context": {}, "facets": facets,
        "job": {"namespace": row.job_namespace, "name": row.job_name}, "team": row.team,
        "decisionId": row.decision_id, "allow": row.allow, "parentRunId": row.parent_run_id,
    }


def job(
    job_namespace: str, name: str, team: str | None, span: tuple[datetime | None, datetime | None],
    inputs: list[dict[str, str]], outputs: list[dict[str, str]], events: list[dict[str, Any]], latest_runs: list[dict[str, Any]],
) -> dict[str, Any]:
    """Marquez's Job: its type and description from the job facets of its latest run's events."""
    facets = merged_facets(event.get("job", {}).get("facets") for event in events)
    processing = _text(facets, "jobType", "processingType")
    return {
        "id": {"namespace": job_namespace, "name": name}, "type": "STREAM" if processing == "STREAMING" else "BATCH",
        "name": name, "simpleName": name, "parentJobName": None, "parentJobUuid": None,
        "createdAt": iso(span[0]), "updatedAt": iso(span[1]), "namespace": job_namespace,
        "inputs": inputs, "outputs": outputs,
        "location": _text(facets, "sourceCodeLocation", "url"), "description": _text(facets, "documentation", "description"),
        "latestRun": latest_runs[0] if latest_runs else None, "latestRuns": latest_runs,
        "facets": facets, "currentVersion": None, "labels": [], "tags": [], "team": team,
    }


def dataset(
    dataset_namespace: str, name: str, span: tuple[datetime | None, datetime | None], events: list[dict[str, Any]],
    current_version: str | None, last_modified: datetime | None,
) -> dict[str, Any]:
    """Marquez's Dataset (a DB_TABLE unless a facet says otherwise), its fields from the schema facet; its
    source is its namespace, as Marquez names the source of an OpenLineage dataset."""
    facets = dataset_facets(events, dataset_namespace, name)
    dataset_type = _text(facets, "datasetType", "datasetType")
    return {
        "id": {"namespace": dataset_namespace, "name": name}, "type": "STREAM" if dataset_type == "STREAM" else "DB_TABLE",
        "name": name, "physicalName": name, "createdAt": iso(span[0]), "updatedAt": iso(span[1]),
        "namespace": dataset_namespace, "sourceName": dataset_namespace,
        "fields": fields(facets), "tags": [], "lastModifiedAt": iso(last_modified),
        "lastLifecycleState": _text(facets, "lifecycleStateChange", "lifecycleStateChange"),
        "description": _text(facets, "documentation", "description"), "currentVersion": current_version,
        "columnLineage": None, "facets": facets, "deleted": False,
    }


def version(base: dict[str, Any], run_id: str, created_by_run: dict[str, Any] | None) -> dict[str, Any]:
    """Marquez's DatasetVersion: the dataset as one run wrote it."""
    return {
        "id": base["id"], "type": base["type"], "name": base["name"], "physicalName": base["physicalName"],
        "createdAt": created_by_run["updatedAt"] if created_by_run else base["updatedAt"],
        "version": dataset_version(base["namespace"], base["name"], run_id), "namespace": base["namespace"],
        "sourceName": base["sourceName"], "fields": base["fields"], "tags": [], "lifecycleState": base["lastLifecycleState"],
        "description": base["description"], "currentSchemaVersion": None, "createdByRun": created_by_run,
        "facets": base["facets"],
    }
