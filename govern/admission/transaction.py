"""The admission transaction: validate a submission, profile it, decide on the live context, record the decision, and for an allowed one
reserve its estimated cost on the sandbox and queue its dispatch job; the lineage event (START, or ABORT
for a denial) goes to the outbox. All in one transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import CursorResult, func, update
from sqlmodel import Session, col, select

from govern.audit import log as decision_log
from govern.check.checker import Checker
from govern.circuit import CircuitProfile
from govern.policy.decision import Decision
from govern.dispatch.announcements import announce
from govern.dispatch.control import dispatch_status
from govern.dispatch.jobs import new_job
from govern.manifest.documents import Document
from govern.canonical import canonical_json
from govern.policy.engines import PolicyEngine
from govern.lineage import outbox
from govern.lineage.submission_events import PRODUCER, submission_event
from govern.db.public import SubmissionPublic
from govern.db.tables import DecisionRecord, LedgerEntry, SandboxRecord, SubmissionRecord, table_of
from govern.manifest.schema import Context
from govern.records.procurement import InvalidVendorRecord, context_for
from govern.records.errors import RecordError, as_utc
from govern.secrets import redacted, redacted_circuit
from govern.submission import Submission, submission_from_request


@dataclass(frozen=True)
class Submitted:
    submission: SubmissionPublic
    decision: Decision
    replayed: bool = False


def request_hash(manifest: dict[str, Any], circuit: str | None) -> str:
    """Over the request with its secrets redacted: a hash of a secret next to text anyone can read (the rest
    of the manifest) would let them test guesses at it, a weak password in a URL in minutes."""
    circuit = redacted_circuit(circuit, "circuit")[0] if circuit is not None else None
    return hashlib.sha256(canonical_json({"manifest": redacted(manifest)[0], "circuit": circuit})).hexdigest()


def decide_on_live_context(
    session: Session, checker: Checker, engine: PolicyEngine, submission: Submission, *, lock_sandbox: bool,
    may_see: Callable[[str], bool] | None = None,
) -> tuple[Decision, CircuitProfile, dict[str, Any]]:
    """Profile and decide on the live context: what checks and submissions share. Returns the policy input
    too, since the caller appends the decision to the log (a check in a batch of its own, a submission in its
    transaction) and commits before it answers. `may_see` says which other teams' sandboxes the caller may
    read (govern.records.procurement.context_for)."""
    profile = checker.profile(submission)
    experiment = submission.experiment
    try:
        live_context = context_for(
            session, team=experiment.metadata.team, vendor=experiment.spec.backend.vendor, sandbox_id=experiment.spec.sandbox,
            lock_sandbox=lock_sandbox, may_see=may_see,
        )
    except InvalidVendorRecord as exc:  # fail closed: a decision on prices nobody can read is a deny
        policy_input = checker.policy_input(submission, profile, Context.empty())
        digest = "sha256:" + hashlib.sha256(canonical_json(policy_input)).hexdigest()
        return Decision.failed_closed(str(exc), input_hash=digest, bundle_revision=engine.bundle_revision, engine=engine.name), profile, policy_input
    policy_input = checker.policy_input(submission, profile, live_context)
    return engine.evaluate(policy_input), profile, policy_input


def submit(
    session: Session,
    checker: Checker,
    engine: PolicyEngine,
    manifest: dict[str, Any],
    circuit: str | None,
    *,
    actor: str,
    idempotency_key: str | None,
    max_circuit_bytes: int,
    bundle_data: Mapping[str, Any],
    may_see: Callable[[str], bool] | None = None,
) -> Submitted:
    digest = request_hash(manifest, circuit)
    if idempotency_key:
        earlier = find_by_key(session, actor, idempotency_key)
        if earlier is not None:
            return replay(session, earlier, digest)
    submission = submission_from_request(Document("manifest", 0, manifest, {}), circuit, max_circuit_bytes)
    experiment = submission.experiment
    decision, profile, policy_input = decide_on_live_context(session, checker, engine, submission, lock_sandbox=True, may_see=may_see)
    cost = recordable_cost(decision.estimate.get("cost", 0))
    row = SubmissionRecord(
        id=str(uuid.uuid4()), team=experiment.metadata.team, name=experiment.metadata.name, created_by=actor,
        idempotency_key=idempotency_key, request_hash=digest, decision_id=decision.decision_id,
        outcome=decision.outcome.value, sandbox=policy_input["experiment"]["spec"].get("sandbox"), estimated_cost=cost,
        currency=str(decision.estimate.get("currency", "USD")), circuit_sha256=profile.sha256, run_id=str(uuid.uuid4()),
    )
    session.add(row)
    session.flush()
    job_status = None
    if decision.allow:
        session.add(new_job(
            submission_id=row.id, run_id=row.run_id, experiment=experiment, qasm=submission.circuit_text,
            bundle_data=bundle_data, estimated_cost=cost, currency=row.currency,
            decided_price_model=decision.estimate.get("priceModel"),
        ))
        announce(session)
        job_status = "queued"
        if experiment.spec.sandbox and decision.estimate.get("paid") and cost > 0:
            reserve(session, experiment.spec.sandbox, row.id, cost, row.currency)
    outbox.enqueue(session, submission_event(
        run_id=row.run_id, experiment=experiment, decision=decision, profile=profile,
        event_time=decision.evaluated_at, producer=PRODUCER,
    ))
    session.flush()
    decision_log.append(session, decision, policy_input, actor=actor, kind="submission")  # last: it holds the chain's lock
    public = _public(row, job_status)
    return Submitted(public, decision)


MAX_RECORDED_COST = Decimal("999999999999.99")
"""Costs are NUMERIC(14, 2) columns."""


def recordable_cost(estimate: Any) -> Decimal:
    """The estimate as the ledger records it; one that is not a number from 0 to MAX_RECORDED_COST is a 422
    before anything is recorded (prices are bounded, so only absurd shot counts get here)."""
    try:
        cost = Decimal(str(estimate))
    except ArithmeticError:
        cost = Decimal("NaN")
    if not cost.is_finite() or not 0 <= cost <= MAX_RECORDED_COST:
        raise RecordError(f"the estimated cost {estimate} is not one the ledger can record (0 to {MAX_RECORDED_COST}); reduce shots", 422)
    return cost.quantize(Decimal("0.01"))


def reserve(
    session: Session, sandbox_id: str, submission_id: str, amount: Decimal, currency: str,
    note: str = "estimated cost reserved when the submission was accepted",
) -> None:
    """Hold the estimate against the sandbox (its row is locked by the decision that allowed it)."""
    table = table_of(SandboxRecord)
    statement = update(table).where(table.c.id == sandbox_id).values(reserved=func.coalesce(table.c.reserved, 0) + amount)
    reserved = cast(CursorResult[Any], session.execute(statement))  # what an UPDATE returns
    if reserved.rowcount == 0:
        raise RecordError(f"sandbox {sandbox_id!r} vanished during the submission", 409)
    session.add(
        LedgerEntry(sandbox_id=sandbox_id, submission_id=submission_id, kind="reserve", amount=amount, currency=currency, note=note)
    )


def find_by_key(session: Session, actor: str, key: str) -> SubmissionRecord | None:
    return session.exec(
        select(SubmissionRecord).where(SubmissionRecord.created_by == actor, SubmissionRecord.idempotency_key == key)
    ).first()


def replay(session: Session, row: SubmissionRecord, digest: str) -> Submitted:
    """The answer a retried request gets: the same submission and decision, nothing created twice."""
    if row.request_hash != digest:
        raise RecordError("this Idempotency-Key was used for a different request body", 422)
    return Submitted(_public(row, dispatch_status(session, row.id)), decision_of(session, row.decision_id), replayed=True)


def decision_of(session: Session, decision_id: str) -> Decision:
    """A recorded decision, read back from the decision log (its one source of truth)."""
    record = session.exec(select(DecisionRecord).where(DecisionRecord.decision_id == decision_id)).one()
    return Decision.model_validate(json.loads(record.record)["decision"])


def _public(row: SubmissionRecord, job_status: str | None) -> SubmissionPublic:
    return SubmissionPublic.model_validate({**row.model_dump(), "created_at": as_utc(row.created_at), "job_status": job_status})


def get_submission(session: Session, submission_id: str) -> SubmissionPublic | None:
    row = session.exec(select(SubmissionRecord).where(SubmissionRecord.id == submission_id)).first()
    return _public(row, dispatch_status(session, row.id)) if row else None


def list_submissions(
    session: Session, *, team: str | None, outcome: str | None, rule: str | None,
    since: datetime | None, until: datetime | None, after: int | None, limit: int,
) -> tuple[list[SubmissionPublic], int | None]:
    """Newest first, `limit` at a time; the cursor is the last row's number (stable under inserts)."""
    query = select(SubmissionRecord).order_by(col(SubmissionRecord.number).desc())
    for wanted, condition in (
        (team, lambda: SubmissionRecord.team == team),
        (outcome, lambda: SubmissionRecord.outcome == outcome),
        (since, lambda: col(SubmissionRecord.created_at) >= since),
        (until, lambda: col(SubmissionRecord.created_at) < until),
        (after, lambda: col(SubmissionRecord.number) < after),
    ):
        if wanted is not None:
            query = query.where(condition())
    if rule is not None:
        query = query.join(DecisionRecord, col(DecisionRecord.decision_id) == SubmissionRecord.decision_id).where(
            col(DecisionRecord.record).contains(f'"rule":"{rule}"')
        )
    rows = session.exec(query.limit(limit + 1)).all()
    page, more = rows[:limit], len(rows) > limit
    return [_public(row, dispatch_status(session, row.id)) for row in page], (page[-1].number if more else None)
