"""Reading one OpenLineage event (spec 2-0-x) into what the store's tables need, refusing with a 422 what
could never be stored: RunEvents, and the static lineage Marquez also accepts, JobEvents (a job's inputs
and outputs, no run) and DatasetEvents (a dataset's metadata).

Every value is checked before anything is serialised: nesting depth, NUL and lone surrogates (PostgreSQL
text and UTF-8 hold neither), finite numbers, name lengths and event times within `limits`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from govern.canonical import canonical_json
from govern.json_values import Flaw, first_problem
from govern.lineage.limits import (
    DECISION_ID_MAX,
    EARLIEST_EVENT_TIME,
    LATEST_EVENT_TIME,
    MAX_NESTING,
    NAME_MAX_BYTES,
    NAMESPACE_MAX_BYTES,
    TEXT_PROBLEMS,
    name_problem,
)
from govern.records.errors import RecordError

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
ENDING_TYPES = frozenset({"COMPLETE", "ABORT", "FAIL"})
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TEAM_NAMESPACE = re.compile(r"govern\.([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)")
STATIC_LINEAGE = uuid.UUID("6c696e65-6167-4500-8000-737461746963")
"""uuid5 namespace of the key a JobEvent's edges are stored under: derived from the job, no run has it."""


def team_of(job_namespace: str) -> str | None:
    """The team owning a job namespace `govern.<team>`; None for other producers' namespaces."""
    match = TEAM_NAMESPACE.fullmatch(job_namespace)
    return match.group(1) if match else None


def event_kind(event: dict[str, Any]) -> str:
    """"run", "job" or "dataset", by the shape the spec gives each (a static event has no `run`)."""
    if "run" in event:
        return "run"
    if "dataset" in event:
        if "job" in event:
            raise RecordError("a DatasetEvent has a dataset and no job; a JobEvent a job and no dataset", 422)
        return "dataset"
    if "job" in event:
        return "job"
    raise RecordError("an OpenLineage event needs `run` and `job` (RunEvent), `job` (JobEvent) or `dataset` (DatasetEvent)", 422)


@dataclass(frozen=True)
class ParsedEvent:
    """What the three tables need from one valid event."""

    kind: str
    event_hash: str
    run_id: str
    """The run's id; for a static event the key its edges are stored under (no run row is made)."""
    event_type: str | None
    event_time: datetime
    job_namespace: str
    """'' for a DatasetEvent, which names no job."""
    job_name: str
    producer: str
    team: str | None
    payload: str
    parent_run_id: str | None
    decision_id: str | None
    allow: bool | None
    datasets: tuple[tuple[str, str, str], ...]
    """(direction, namespace, name) of each input and output."""


def parse(event: Any) -> ParsedEvent:
    if not isinstance(event, dict):
        raise RecordError("an OpenLineage event must be a JSON object", 422)
    check_plain(event)
    for key in ("eventTime", "producer", "schemaURL"):
        if not isinstance(event.get(key), str) or not event[key]:
            raise RecordError(f"{key} is required and must be a non-empty string", 422)
    kind = event_kind(event)
    event_type = event.get("eventType")
    if kind != "run" and event_type is not None:
        raise RecordError("eventType belongs to RunEvents; a static JobEvent or DatasetEvent has none", 422)
    if event_type is not None and event_type not in EVENT_TYPES:
        raise RecordError(f"eventType must be one of {', '.join(EVENT_TYPES)}", 422)
    try:
        encoded = canonical_json(event)
    except UnicodeEncodeError:
        check_plain(event, surrogates=True)
        raise RecordError("the event is not plain JSON", 422) from None
    common = {"kind": kind, "event_hash": hashlib.sha256(encoded).hexdigest(), "event_type": event_type,
              "event_time": _event_time(event["eventTime"]), "producer": event["producer"], "payload": encoded.decode()}
    if kind == "dataset":
        dataset = _required_object(event, "dataset")
        namespace, name = _name(dataset.get("namespace"), "dataset.namespace", NAMESPACE_MAX_BYTES), _name(dataset.get("name"), "dataset.name", NAME_MAX_BYTES)
        return ParsedEvent(**common, run_id=str(uuid.uuid5(STATIC_LINEAGE, f"dataset:{namespace}:{name}")), job_namespace="", job_name="",
                           team=None, parent_run_id=None, decision_id=None, allow=None, datasets=())
    job = _required_object(event, "job")
    job_namespace, job_name = _name(job.get("namespace"), "job.namespace", NAMESPACE_MAX_BYTES), _name(job.get("name"), "job.name", NAME_MAX_BYTES)
    datasets = (*_datasets(event, "inputs", "input"), *_datasets(event, "outputs", "output"))
    if kind == "job":
        return ParsedEvent(**common, run_id=str(uuid.uuid5(STATIC_LINEAGE, f"job:{job_namespace}:{job_name}")), job_namespace=job_namespace,
                           job_name=job_name, team=team_of(job_namespace), parent_run_id=None, decision_id=None, allow=None, datasets=datasets)
    run = _required_object(event, "run")
    run_facets = _optional_object(run.get("facets"), "run.facets")
    parent = _optional_object(run_facets.get("parent"), "run.facets.parent")
    parent_run = _optional_object(parent.get("run"), "run.facets.parent.run")
    decision = _optional_object(run_facets.get("govern_policyDecision"), "run.facets.govern_policyDecision")
    decision_id, allow = decision.get("decisionId"), decision.get("allow")
    if decision_id is not None and (not isinstance(decision_id, str) or not 0 < len(decision_id) <= DECISION_ID_MAX):
        raise RecordError(f"govern_policyDecision.decisionId must be a string of 1 to {DECISION_ID_MAX} characters", 422)
    if allow is not None and not isinstance(allow, bool):
        raise RecordError("govern_policyDecision.allow must be true or false", 422)
    return ParsedEvent(
        **common, run_id=run_id(run.get("runId"), "run.runId"), job_namespace=job_namespace, job_name=job_name,
        team=team_of(job_namespace),
        parent_run_id=run_id(parent_run["runId"], "run.facets.parent.run.runId") if "runId" in parent_run else None,
        decision_id=decision_id, allow=allow, datasets=datasets,
    )


def check_plain(event: dict[str, Any], *, surrogates: bool = False) -> None:
    """Refuse what JSON text cannot carry or the database cannot store, naming the field. Lone surrogates
    are looked for only when asked (`parse` encodes the payload anyway, and asks again when that fails)."""
    problem = first_problem(event, max_depth=MAX_NESTING, surrogates=surrogates)
    if problem is None:
        return
    where, parent = _dotted(problem.path), _dotted(problem.path[:-1]) or "the event"
    match problem.flaw:
        case Flaw.TOO_DEEP:
            raise RecordError(f"{where or 'the event'} nests deeper than {MAX_NESTING} levels", 422)
        case Flaw.KEY_NOT_TEXT:
            raise RecordError(f"{parent} has a key that is not a string", 422)
        case Flaw.NUL | Flaw.LONE_SURROGATE if problem.in_key:
            raise RecordError(f"a key of {parent} {TEXT_PROBLEMS[problem.flaw]}", 422)
        case Flaw.NUL | Flaw.LONE_SURROGATE:
            raise RecordError(f"{where} {TEXT_PROBLEMS[problem.flaw]}", 422)
        case Flaw.NOT_FINITE:
            raise RecordError(f"{where} is not a finite number", 422)
        case _:
            raise RecordError(f"{where} is not a JSON value", 422)


def _dotted(path: tuple[str | int, ...]) -> str:
    """`run.facets.inputs[0].name`: how the store's messages name a field."""
    where = ""
    for part in path:
        where = f"{where}[{part}]" if isinstance(part, int) else f"{where}.{part}" if where else part
    return where


def _required_object(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    if not isinstance(value, dict):
        raise RecordError(f"{key} is required and must be an object", 422)
    return value


def _optional_object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"{where} must be an object", 422)
    return value


def _name(value: Any, where: str, max_bytes: int) -> str:
    problem = name_problem(value, max_bytes)
    if problem:
        raise RecordError(f"{where} {problem}", 422)
    return cast(str, value)  # name_problem passes strings only


def run_id(value: Any, where: str) -> str:
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
    in_utc: datetime | None
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted by its offset
        in_utc = None
    if in_utc is None or not EARLIEST_EVENT_TIME <= in_utc < LATEST_EVENT_TIME:
        raise RecordError(f"eventTime {value!r} is outside {EARLIEST_EVENT_TIME.year} to {LATEST_EVENT_TIME.year - 1}", 422)
    return in_utc


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
