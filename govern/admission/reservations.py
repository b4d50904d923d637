"""Money at admission: an allowed submission's estimated cost is held against its sandbox, in the ledger,
within what the ledger's NUMERIC(14, 2) columns can record.

Decisions are made without the sandbox's row lock, so submissions against one sandbox do not queue behind
each other's evaluation. The cost is then held with one conditional update that matches only while the
budget still fits and the sandbox is at the revision the decision read (no approval, revocation or other
change since; reservations by others are money and do not count). A decision whose hold matches stands: it
recorded the spend it was made on, and the budget covers it. One that matches nothing (the budget no longer
fits or the sandbox changed underneath) is decided again on the row locked until commit, so the second
decision cannot be overtaken, and that one is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, func, update
from sqlmodel import Session

from govern.db.tables import LedgerEntry, SandboxRecord, table_of
from govern.policy.decision import Decision
from govern.records.errors import RecordError

MAX_RECORDED_COST = Decimal("999999999999.99")
"""Costs are NUMERIC(14, 2) columns."""


@dataclass(frozen=True)
class Evaluation:
    """A decision, the input it was made on, and the revision of the sandbox row that input read."""

    decision: Decision
    policy_input: dict[str, Any]
    sandbox_revision: int | None


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


def decide_and_hold(
    session: Session, sandbox_id: str | None, decide: Callable[[bool], Evaluation], cost_of: Callable[[Evaluation], Decimal],
) -> tuple[Evaluation, Decimal]:
    """The final evaluation and what it holds on the sandbox (0 for none). `decide(lock_sandbox)` reads the
    live context and evaluates; `cost_of` says what an allowed evaluation would reserve. The hold is taken
    here, in the caller's transaction, and keeps the row locked until it commits: the caller records the
    rest (record_reservation among it) after this, and commits soon."""
    first = decide(False)
    cost = cost_of(first)
    if not (sandbox_id and first.decision.allow and cost > 0):
        return first, Decimal("0")
    if first.sandbox_revision is not None and _hold_if_unchanged(session, sandbox_id, cost, first.sandbox_revision):
        return first, cost
    second = decide(True)
    cost = cost_of(second)
    if not (second.decision.allow and cost > 0):
        return second, Decimal("0")
    _hold_locked(session, sandbox_id, cost)
    return second, cost


def _hold_if_unchanged(session: Session, sandbox_id: str, amount: Decimal, revision: int) -> bool:
    """Add `amount` to the reservations if the remainder still covers it and the sandbox is at `revision`,
    in one statement: PostgreSQL re-checks the condition on the newest row after waiting for a concurrent
    reservation, so two cannot both take the same remainder."""
    table = table_of(SandboxRecord)
    statement = update(table).where(
        table.c.id == sandbox_id, table.c.revision == revision, table.c.budget - table.c.spent - table.c.reserved >= amount,
    ).values(reserved=table.c.reserved + amount)
    return cast(CursorResult[Any], session.execute(statement)).rowcount == 1  # what an UPDATE returns


def _hold_locked(session: Session, sandbox_id: str, amount: Decimal) -> None:
    """Add `amount` to the reservations of a sandbox whose row this transaction has locked: the decision was
    made on the row as it stands, as the policy judged it (a waived PR-005 included)."""
    table = table_of(SandboxRecord)
    statement = update(table).where(table.c.id == sandbox_id).values(reserved=func.coalesce(table.c.reserved, 0) + amount)
    if cast(CursorResult[Any], session.execute(statement)).rowcount == 0:
        raise RecordError(f"sandbox {sandbox_id!r} vanished during the submission", 409)


def record_reservation(
    session: Session, sandbox_id: str, submission_id: str, amount: Decimal, currency: str,
    note: str = "estimated cost reserved when the submission was accepted",
) -> None:
    """The ledger's entry for a hold taken by decide_and_hold."""
    session.add(
        LedgerEntry(sandbox_id=sandbox_id, submission_id=submission_id, kind="reserve", amount=amount, currency=currency, note=note)
    )
