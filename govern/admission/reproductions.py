"""Reproductions as governed actions: decided, recorded, charged and rate-limited.

Re-running a finished simulator job can spend a sandbox's money (an `ibm/<device>` run in local mode is
billed what its price model says the device would have cost), so a reproduction is decided like a
submission: the original decision's input, with the live context and the time of now, on the bundle of
now. The decision is appended to the decision log (kind `reproduce`, actor the token) in the transaction
that queues the job and reserves its estimate, so nothing is queued unrecorded. Like a submission's, it is
made without the sandbox's row lock and its estimate held with one conditional update, decided again under
the lock when the sandbox changed underneath (govern.admission.reservations). Each token may ask for
`limit` reproductions per `window_s`, counted from those records, so the limit survives restarts and holds
across service processes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from govern.admission.reservations import Evaluation, decide_and_hold, record_reservation
from govern.audit import log as decision_log
from govern.db.public import JobPublic
from govern.db.tables import DecisionRecord, SubmissionRecord, utcnow
from govern.dispatch import control
from govern.dispatch.costs import actual_cost
from govern.manifest.schema import epoch_ns
from govern.policy.decision import Decision
from govern.policy.engines import PolicyEngine
from govern.policy.input import context_input
from govern.records.errors import RecordError, as_utc
from govern.records.live_context import context_for
from govern.records.procurement import InvalidVendorRecord
from govern.settings import Settings

KIND = "reproduce"
RATE_LOCK_KEY = 0x72657072  # "repr": with the actor's hash, the PostgreSQL advisory lock that orders one token's requests


class RateLimited(Exception):
    """The token has used its reproductions for the window; `retry_after_s` says when the next one frees up."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Reproduced:
    decision: Decision
    job: JobPublic | None


def reproduce(
    session: Session, engine: PolicyEngine, submission_id: str, *, actor: str, settings: Settings, limit: int,
    window_s: float, may_see: Callable[[str], bool] | None = None,
) -> Reproduced:
    """Decide and record a reproduction of the submission's finished run; an allowed one is queued with its
    estimate reserved on the run's sandbox. The caller commits."""
    submission = control.submission_row(session, submission_id)
    hold_rate(session, actor, limit, window_s)
    original = control.reproducible_run(session, submission_id, settings)
    recorded = _recorded_input(session, submission)
    cost = actual_cost(original.price_model, original.shots, None).amount

    def evaluate(lock_sandbox: bool) -> Evaluation:
        policy_input, revision = _on_live_context(session, submission, recorded, lock_sandbox=lock_sandbox, may_see=may_see)
        return Evaluation(engine.evaluate(policy_input), policy_input, revision)

    evaluation, held = decide_and_hold(session, submission.sandbox, evaluate, lambda _: cost)
    decision = evaluation.decision
    job = None
    if decision.allow:
        job = control.queue_reproduction(session, original, cost, decision)
        if submission.sandbox and held:
            record_reservation(session, submission.sandbox, submission.id, held, original.currency,
                               note=f"estimated cost reserved for reproduction job {job.id} of job {original.id}")
    decision_log.append(session, decision, evaluation.policy_input, actor=actor, kind=KIND)  # last: it holds the chain's lock
    return Reproduced(decision, job)


def hold_rate(session: Session, actor: str, limit: int, window_s: float) -> None:
    """Refuse when the actor's recorded reproduction decisions in the window reach the limit.

    The count and the append that follows are one transaction behind a lock per actor (SQLite's write lock,
    taken when the transaction began, or an advisory lock on PostgreSQL), so two concurrent requests cannot
    both take the last place.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(:actor))"), {"key": RATE_LOCK_KEY, "actor": actor})
    now = utcnow()
    window = timedelta(seconds=window_s)
    oldest_counted = session.exec(
        select(DecisionRecord.recorded_at)
        .where(DecisionRecord.kind == KIND, DecisionRecord.actor == actor, col(DecisionRecord.recorded_at) > now - window)
        .order_by(col(DecisionRecord.recorded_at).desc()).offset(limit - 1).limit(1)
    ).first()
    if oldest_counted is not None:
        retry_after = max(1, math.ceil((as_utc(oldest_counted) + window - now).total_seconds()))
        raise RateLimited(
            f"at most {limit} reproductions per {window_s:g} s per token (GOVERN_REPRODUCE_LIMIT); try again in {retry_after} s",
            retry_after,
        )


def _recorded_input(session: Session, submission: SubmissionRecord) -> dict[str, Any]:
    """The original decision's input: manifest, circuit profile, secrets found, all as recorded."""
    record = session.exec(select(DecisionRecord.record).where(DecisionRecord.decision_id == submission.decision_id)).first()
    recorded = json.loads(record).get("input") if record else None
    if not isinstance(recorded, dict):
        raise RecordError(f"submission {submission.id} has no recorded decision input to decide a reproduction on", 409)
    return recorded


def _on_live_context(
    session: Session, submission: SubmissionRecord, recorded: dict[str, Any], *, lock_sandbox: bool,
    may_see: Callable[[str], bool] | None,
) -> tuple[dict[str, Any], int | None]:
    """The recorded input on the live context and the clock of now, with the sandbox revision it read."""
    spec = recorded.get("experiment", {}).get("spec", {})
    try:
        live = context_for(
            session, team=submission.team, vendor=spec.get("backend", {}).get("vendor", ""), sandbox_id=submission.sandbox,
            lock_sandbox=lock_sandbox, may_see=may_see,
        )
    except InvalidVendorRecord as exc:  # fail closed: no reproduction on prices nobody can read
        raise RecordError(f"the vendor's stored price model is unreadable, so no reproduction is decided: {exc}", 409) from None
    return {**recorded, "context": context_input(live.context), "now_ns": epoch_ns(utcnow())}, live.sandbox_revision
