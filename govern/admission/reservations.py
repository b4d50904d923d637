"""Money at admission: an allowed submission's estimated cost is held against its sandbox, in the ledger,
within what the ledger's NUMERIC(14, 2) columns can record."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, func, update
from sqlmodel import Session

from govern.db.tables import LedgerEntry, SandboxRecord, table_of
from govern.records.errors import RecordError

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
