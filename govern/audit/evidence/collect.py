"""Everything the database knows about one submission, gathered for its evidence pack: the manifest and
circuit as recorded, every decision about it (the admission's, and any its runs' lineage names, such as a
reproduction's), the bundle revisions they were made on, its jobs, results, ledger entries, sandbox and
OpenLineage events. Every list is capped; what a cap cut short is said in `truncated`, never left silent.

Jobs are copied without their credentials and circuit text (the circuit is its own member, once); nothing
here holds a secret the records do not already hold redacted.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from govern.audit.record_format import utc_text
from govern.db.tables import (
    ApiToken,
    DecisionRecord,
    JobRecord,
    LedgerEntry,
    LineageEventRecord,
    LineageOutboxEntry,
    ResultRecord,
    SandboxRecord,
    SubmissionRecord,
)
from govern.policy.bundle import BundleFile
from govern.records.policy_revisions import stored_files

MAX_DECISIONS = 100
MAX_JOBS = 100
MAX_LEDGER_ENTRIES = 1000
MAX_LINEAGE_EVENTS = 1000

JOB_COLUMNS = (
    "id", "submission_id", "kind", "parent_job_id", "baseline_job_id", "run_id", "status", "vendor", "device", "shots", "seed_transpiler",
    "seed_simulator", "price_model", "estimated_cost", "currency", "vendor_job_id", "attempts", "error", "reproduced",
    "created_at", "updated_at", "started_at", "finished_at",
)
"""What a pack shows of a job: never its credentials; its circuit is the pack's circuit.qasm."""
SUBMISSION_COLUMNS = (
    "id", "team", "name", "created_by", "decision_id", "outcome", "sandbox", "estimated_cost", "currency", "circuit_sha256",
    "run_id", "created_at",
)
RESULT_COLUMNS = (
    "job_id", "submission_id", "device", "counts", "result_hash", "transpiled", "calibration_snapshot_id", "usage_seconds",
    "actual_cost", "currency", "created_at",
)
LEDGER_COLUMNS = ("id", "sandbox_id", "submission_id", "kind", "amount", "currency", "note", "created_at")
SANDBOX_COLUMNS = (
    "id", "team", "vendor", "devices", "status", "requested_by", "approved_by", "start", "end", "budget", "spent",
    "currency", "allows_confidential", "created_at", "decided_at", "pilot_terms",
)


@dataclass
class Evidence:
    submission: dict[str, Any]
    manifest: dict[str, Any] | None
    circuit: str | None
    decisions: list[DecisionRecord]
    bundles: dict[str, list[BundleFile]]
    """Each decision's bundle revision and its stored files (empty when the revision was never kept)."""
    jobs: list[dict[str, Any]]
    results: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    sandbox: dict[str, Any] | None
    emitted_events: list[str]
    """The OpenLineage events govern wrote for the submission's runs, as stored (canonical JSON)."""
    received_events: list[str]
    """Events producers delivered about those runs, as received."""
    actors: dict[str, str] = field(default_factory=dict)
    """Token id to token name, for every actor the evidence names."""
    truncated: list[str] = field(default_factory=list)


def plain(value: Any) -> Any:
    """A column value as JSON holds it: times as UTC text, money as decimal text."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_dict(row: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: plain(getattr(row, name)) for name in columns}


def collect(session: Session, submission_id: str) -> Evidence | None:
    """The evidence about `submission_id`; None when no submission has that id."""
    submission = session.exec(select(SubmissionRecord).where(SubmissionRecord.id == submission_id)).first()
    if submission is None:
        return None
    truncated: list[str] = []
    jobs = _capped(session, select(JobRecord).where(JobRecord.submission_id == submission_id)
                   .order_by(col(JobRecord.created_at), col(JobRecord.id)), MAX_JOBS, "jobs", truncated)
    run_ids = [submission.run_id, *(job.run_id for job in jobs)]
    emitted = [row.event for row in _capped(
        session, select(LineageOutboxEntry).where(col(LineageOutboxEntry.run_id).in_(run_ids)).order_by(col(LineageOutboxEntry.id)),
        MAX_LINEAGE_EVENTS, "emitted lineage events", truncated)]
    received = [row.payload for row in _capped(
        session, select(LineageEventRecord).where(col(LineageEventRecord.run_id).in_(run_ids)).order_by(col(LineageEventRecord.id)),
        MAX_LINEAGE_EVENTS, "received lineage events", truncated)]
    decisions = _decisions(session, submission, emitted + received, truncated)
    admission = next((d for d in decisions if d.decision_id == submission.decision_id), None)
    recorded_input = json.loads(admission.record).get("input", {}) if admission else {}
    sandbox = session.get(SandboxRecord, submission.sandbox) if submission.sandbox else None
    evidence = Evidence(
        submission=row_dict(submission, SUBMISSION_COLUMNS),
        manifest=recorded_input.get("experiment") if isinstance(recorded_input, dict) else None,
        circuit=_circuit(jobs, recorded_input),
        decisions=decisions,
        bundles={revision: stored_files(session, revision) for revision in sorted({d.bundle_revision for d in decisions})},
        jobs=[row_dict(job, JOB_COLUMNS) for job in jobs],
        results=[row_dict(row, RESULT_COLUMNS) for row in session.exec(
            select(ResultRecord).where(ResultRecord.submission_id == submission_id).order_by(col(ResultRecord.created_at)).limit(MAX_JOBS))],
        ledger=[row_dict(row, LEDGER_COLUMNS) for row in _capped(
            session, select(LedgerEntry).where(LedgerEntry.submission_id == submission_id).order_by(col(LedgerEntry.id)),
            MAX_LEDGER_ENTRIES, "ledger entries", truncated)],
        sandbox=row_dict(sandbox, SANDBOX_COLUMNS) if sandbox else None,
        emitted_events=emitted,
        received_events=received,
        truncated=truncated,
    )
    evidence.actors = _actor_names(session, [submission.created_by, *(d.actor for d in decisions),
                                             *((sandbox.requested_by, sandbox.approved_by or "") if sandbox else ())])
    return evidence


def _capped(session: Session, query: Any, cap: int, what: str, truncated: list[str]) -> list[Any]:
    rows = list(session.exec(query.limit(cap + 1)).all())
    if len(rows) > cap:
        truncated.append(f"only the first {cap} {what} are included")
    return rows[:cap]


def _decisions(session: Session, submission: SubmissionRecord, events: list[str], truncated: list[str]) -> list[DecisionRecord]:
    """The admission decision and every decision the runs' lineage names, in log order."""
    wanted = [submission.decision_id]
    for event in events:
        for decision_id in _named_decisions(event):
            if decision_id not in wanted:
                wanted.append(decision_id)
    if len(wanted) > MAX_DECISIONS:
        truncated.append(f"only {MAX_DECISIONS} of the {len(wanted)} decisions about the submission are included")
        wanted = wanted[:MAX_DECISIONS]
    rows = session.exec(select(DecisionRecord).where(col(DecisionRecord.decision_id).in_(wanted)).order_by(col(DecisionRecord.seq)))
    return list(rows.all())


def _named_decisions(event: str) -> list[str]:
    """The decision ids an OpenLineage event's run facets carry (govern's policy-decision facet)."""
    try:
        facets = json.loads(event).get("run", {}).get("facets", {})
    except (ValueError, AttributeError):
        return []
    if not isinstance(facets, dict):
        return []
    return [f["decisionId"] for f in facets.values() if isinstance(f, dict) and isinstance(f.get("decisionId"), str)]


def _circuit(jobs: list[JobRecord], recorded_input: Any) -> str | None:
    """The circuit text as dispatched (redacted), else inline in the recorded manifest; None when neither has it."""
    if jobs:
        return jobs[0].qasm
    spec = recorded_input.get("experiment", {}).get("spec", {}) if isinstance(recorded_input, dict) else {}
    inline = spec.get("circuit", {}).get("qasm") if isinstance(spec, dict) and isinstance(spec.get("circuit"), dict) else None
    return inline if isinstance(inline, str) else None


def _actor_names(session: Session, actors: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for actor in sorted(set(filter(None, actors))):
        try:
            token = session.get(ApiToken, uuid.UUID(actor))
        except ValueError:
            token = None
        names[actor] = token.name if token is not None else ""
    return names
