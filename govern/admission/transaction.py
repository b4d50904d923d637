"""The admission transaction: validate a submission, profile it, decide on the live context, record the decision, and for an allowed one
reserve its estimated cost on the sandbox and queue its dispatch job (and its baseline run); the lineage event (START, or ABORT
for a denial) goes to the outbox. All in one transaction. The decision is made without the sandbox's row
lock and the cost held with one conditional update, decided again under the lock only when the sandbox
changed underneath (govern.admission.reservations), so submissions against one sandbox do not queue behind
each other's evaluation."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from govern.admission.queries import decision_of, submission_public
from govern.admission.reservations import Evaluation, decide_and_hold, record_reservation, recordable_cost
from govern.audit import log as decision_log
from govern.canonical import canonical_json
from govern.check.checker import Checker
from govern.circuit import CircuitProfile
from govern.db.public import SubmissionPublic
from govern.db.tables import SubmissionRecord
from govern.dispatch.announcements import announce
from govern.dispatch.baselines import queue_baseline, recorded_baseline
from govern.dispatch.control import dispatch_status
from govern.dispatch.jobs import new_job
from govern.lineage import outbox
from govern.lineage.pilot_state import with_pilot
from govern.lineage.submission_events import PRODUCER, submission_event
from govern.manifest.documents import Document
from govern.manifest.schema import Context
from govern.policy.decision import Decision
from govern.policy.engines import PolicyEngine
from govern.records.errors import RecordError
from govern.records.live_context import context_for
from govern.records.procurement import InvalidVendorRecord
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
    read (govern.records.live_context.context_for)."""
    profile = checker.profile(submission)
    evaluation = evaluate_on_live_context(session, checker, engine, submission, profile, lock_sandbox=lock_sandbox, may_see=may_see)
    return evaluation.decision, profile, evaluation.policy_input


def evaluate_on_live_context(
    session: Session, checker: Checker, engine: PolicyEngine, submission: Submission, profile: CircuitProfile, *,
    lock_sandbox: bool, may_see: Callable[[str], bool] | None = None,
) -> Evaluation:
    """Decide the profiled submission on the live context, with the sandbox revision that context was read at."""
    experiment = submission.experiment
    try:
        live = context_for(
            session, team=experiment.metadata.team, vendor=experiment.spec.backend.vendor, sandbox_id=experiment.spec.sandbox,
            lock_sandbox=lock_sandbox, may_see=may_see,
        )
    except InvalidVendorRecord as exc:  # fail closed: a decision on prices nobody can read is a deny
        policy_input = checker.policy_input(submission, profile, Context.empty())
        digest = "sha256:" + hashlib.sha256(canonical_json(policy_input)).hexdigest()
        failed = Decision.failed_closed(str(exc), input_hash=digest, bundle_revision=engine.bundle_revision, engine=engine.name)
        return Evaluation(failed, policy_input, None)
    policy_input = checker.policy_input(submission, profile, live.context)
    return Evaluation(engine.evaluate(policy_input), policy_input, live.sandbox_revision)


def reservable_cost(evaluation: Evaluation) -> Decimal:
    """What an allowed decision holds on its sandbox: the recordable estimate of a paid run, else nothing."""
    cost = recordable_cost(evaluation.decision.estimate.get("cost", 0))
    return cost if evaluation.decision.estimate.get("paid") else Decimal("0")


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
    reader: Session | None = None,
) -> Submitted:
    """Decide and record a submission. The idempotency lookup and the first, unlocked decision read through
    `reader` when given (a read-only session, govern.db.database.reading), so on SQLite a submission takes the
    write lock only once it has been decided; the records, and a decision made again under the sandbox's row
    lock, go through `session`."""
    reads = reader or session
    digest = request_hash(manifest, circuit)
    if idempotency_key:
        earlier = find_by_key(reads, actor, idempotency_key)
        if earlier is not None:
            return replay(reads, earlier, digest)
    submission = submission_from_request(Document("manifest", 0, manifest, {}), circuit, max_circuit_bytes)
    experiment = submission.experiment
    baseline = experiment.spec.baseline
    recorded = recorded_baseline(reads, baseline.recorded, experiment.metadata.team, bundle_data) if baseline and baseline.recorded else None
    profile = checker.profile(submission)

    def decide(lock_sandbox: bool) -> Evaluation:
        through = session if lock_sandbox else reads
        evaluation = evaluate_on_live_context(through, checker, engine, submission, profile, lock_sandbox=lock_sandbox, may_see=may_see)
        if through is not session:
            through.close()  # the read is over: on SQLite its snapshot must not outlive it
        return evaluation

    evaluation, held = decide_and_hold(session, experiment.spec.sandbox, decide, reservable_cost)
    decision, policy_input = evaluation.decision, evaluation.policy_input
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
    primary = None
    if decision.allow:
        primary = new_job(
            submission_id=row.id, run_id=row.run_id, experiment=experiment, qasm=submission.circuit_text,
            bundle_data=bundle_data, estimated_cost=cost, currency=row.currency,
            decided_price_model=decision.estimate.get("priceModel"), baseline_job_id=recorded.id if recorded else None,
        )
        session.add(primary)
        announce(session)
        job_status = "queued"
        if experiment.spec.sandbox and held:
            record_reservation(session, experiment.spec.sandbox, row.id, held, row.currency)
    event = submission_event(run_id=row.run_id, experiment=experiment, decision=decision, profile=profile,
                             event_time=decision.evaluated_at, producer=PRODUCER)
    if policy_input["context"]["sandboxes"].get(row.sandbox or "", {}).get("pilot"):  # only a pilot's START reads its progress
        event = with_pilot(session, event, decision.evaluated_at)
    outbox.enqueue(session, event)
    if primary is not None and baseline and baseline.simulator:
        queue_baseline(session, primary, baseline.simulator)
    session.flush()
    decision_log.append(session, decision, policy_input, actor=actor, kind="submission")  # last: it holds the chain's lock
    public = submission_public(row, job_status)
    return Submitted(public, decision)


def find_by_key(session: Session, actor: str, key: str) -> SubmissionRecord | None:
    return session.exec(
        select(SubmissionRecord).where(SubmissionRecord.created_by == actor, SubmissionRecord.idempotency_key == key)
    ).first()


def replay(session: Session, row: SubmissionRecord, digest: str) -> Submitted:
    """The answer a retried request gets: the same submission and decision, nothing created twice."""
    if row.request_hash != digest:
        raise RecordError("this Idempotency-Key was used for a different request body", 422)
    return Submitted(submission_public(row, dispatch_status(session, row.id)), decision_of(session, row.decision_id), replayed=True)


