"""Money at dispatch: whether a job's sandbox may still pay for it, and booking what a finished job cost.

At admission the estimate was reserved on the sandbox (govern.admission.reservations.reserve). When the job ends the
reservation is released and the actual cost charged, each a ledger entry whose note says how the number
was made, so the ledger explains every figure: vendor-reported usage where there is some, else the
job's price model (the same formula the policies estimate with).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import Session, col, select

from govern.db.tables import JobRecord, LedgerEntry, SandboxRecord, SubmissionRecord, utcnow
from govern.dispatch.jobs import JobKind
from govern.pilots.failures import record_ending
from govern.records.errors import as_utc

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Charge:
    amount: Decimal
    explanation: str


def _number(model: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(model.get(key, 0)))


def actual_cost(price_model: dict[str, Any], shots: int, usage_seconds: float | None) -> Charge:
    """perTask + shots × perShot + seconds × ratePerSecond, where seconds are the vendor's reported usage
    or, without it, the model's baseSeconds + shots × secondsPerShot."""
    name = price_model.get("model", "unknown")
    per_task, per_shot, rate = _number(price_model, "perTask"), _number(price_model, "perShot"), _number(price_model, "ratePerSecond")
    if usage_seconds is not None:
        seconds, source = Decimal(str(usage_seconds)), "vendor-reported usage"
    else:
        seconds = _number(price_model, "baseSeconds") + shots * _number(price_model, "secondsPerShot")
        source = "price-model seconds"
    amount = (per_task + shots * per_shot + seconds * rate).quantize(CENT, ROUND_HALF_UP)
    terms = [f"{name} price model"]
    if per_task:
        terms.append(f"{per_task} per task")
    if per_shot:
        terms.append(f"{shots} shots × {per_shot}")
    if rate:
        terms.append(f"{seconds.normalize()} s ({source}) × {rate}/s")
    return Charge(amount, ", ".join(terms))


def sandbox_refusal(session: Session, job: JobRecord) -> str | None:
    """Why the job's sandbox may not pay for a dispatch now (revoked, closed, exhausted), or None.

    The job's own reservation is part of what the sandbox holds, so the sandbox is exhausted for it
    only when actual charges have pushed spending past the budget.
    """
    sandbox_id = session.exec(select(SubmissionRecord.sandbox).where(SubmissionRecord.id == job.submission_id)).first()
    if sandbox_id is None or job.estimated_cost <= 0:
        return None
    sandbox = session.get(SandboxRecord, sandbox_id)
    if sandbox is None or sandbox.status != "approved":
        return f"sandbox {sandbox_id} is {sandbox.status if sandbox else 'gone'}; nothing more is dispatched on it"
    now = utcnow()
    if not as_utc(sandbox.start) <= now < as_utc(sandbox.end):
        return f"sandbox {sandbox_id} is outside its window ({as_utc(sandbox.start).date()} to {as_utc(sandbox.end).date()})"
    if sandbox.spent + sandbox.reserved > sandbox.budget:
        return (f"sandbox {sandbox_id} is exhausted: {sandbox.spent} spent and {sandbox.reserved} reserved of a "
                f"{sandbox.budget} {sandbox.currency} budget")
    return None


def settle(session: Session, job: JobRecord, usage_seconds: float | None, ran: bool) -> Decimal:
    """Release the job's reservation, charge what it cost (nothing when it never ran) and count how a primary
    job ended in the sandbox's failure record (govern.pilots.failures); returns the charge. Runs in the
    transaction that ends the job, under the sandbox's row lock, which a primary job takes even when it has
    nothing to release or charge (a failed job that never ran still counts)."""
    sandbox_id = session.exec(select(SubmissionRecord.sandbox).where(SubmissionRecord.id == job.submission_id)).first()
    reserved = min(_reserved_for(session, job), job.estimated_cost) if sandbox_id else Decimal("0")
    charge = actual_cost(job.price_model, job.shots, usage_seconds) if ran else Charge(Decimal("0"), "the job never ran")
    if sandbox_id is None or (reserved == 0 and charge.amount == 0 and job.kind != JobKind.PRIMARY.value):
        return charge.amount
    sandbox = session.get(SandboxRecord, sandbox_id, with_for_update=True)
    if sandbox is None:
        return charge.amount
    if reserved:
        sandbox.reserved -= reserved
        session.add(LedgerEntry(sandbox_id=sandbox_id, submission_id=job.submission_id, kind="release", amount=-reserved,
                                currency=job.currency, note=f"reservation released when job {job.id} ended ({job.status})"))
    if charge.amount:
        sandbox.spent += charge.amount
        session.add(LedgerEntry(sandbox_id=sandbox_id, submission_id=job.submission_id, kind="charge", amount=charge.amount,
                                currency=job.currency, note=f"job {job.id} on {job.vendor}/{job.device}: {charge.explanation}"))
    record_ending(sandbox, job, charge.amount)
    session.add(sandbox)
    return charge.amount


def _reserved_for(session: Session, job: JobRecord) -> Decimal:
    """What is still reserved for the job's submission: its reservations less what was released. A job
    releases at most its own estimate of it, since reproductions of the submission hold reservations too."""
    entries = session.exec(
        select(LedgerEntry).where(LedgerEntry.submission_id == job.submission_id, col(LedgerEntry.kind).in_(("reserve", "release")))
    ).all()
    return sum((entry.amount for entry in entries), Decimal("0"))
