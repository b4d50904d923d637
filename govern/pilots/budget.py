"""How much of a failure budget a failure record uses, for display: the arithmetic of rules PR-008 (spent
when a limit is reached) and PR-103 (warning from 80%), which decide; tests hold the two to each other."""

from __future__ import annotations

from govern.pilots.schema import BudgetState, LimitName, LimitUse
from govern.pilots.terms import FailureBudget, FailureRecord

WARN_FRACTION = 0.8


def counted_failures(budget: FailureBudget, record: FailureRecord) -> int:
    return (record.failed if "failed" in budget.counts else 0) + (record.cancelled if "cancelled" in budget.counts else 0)


def counted_spend(budget: FailureBudget, record: FailureRecord) -> float:
    spend = (record.failed_spend if "failed" in budget.counts else 0) + (record.cancelled_spend if "cancelled" in budget.counts else 0)
    return float(spend)


def limit_uses(budget: FailureBudget, record: FailureRecord) -> list[LimitUse]:
    """Each limit the budget names, with what is used of it; a share limit only once enough jobs ended."""
    failures = counted_failures(budget, record)
    uses: list[tuple[LimitName, float, float]] = []
    if budget.max_failed_jobs is not None:
        uses.append(("maxFailedJobs", float(failures), float(budget.max_failed_jobs)))
    if budget.max_failed_share is not None and record.ended >= budget.share_after_jobs:
        uses.append(("maxFailedShare", failures / record.ended, budget.max_failed_share))
    if budget.max_failed_spend is not None:
        uses.append(("maxFailedSpend", counted_spend(budget, record), float(budget.max_failed_spend)))
    return [LimitUse(limit=name, used=used, allowed=allowed, state=_state(used, allowed)) for name, used, allowed in uses]


def overall_state(uses: list[LimitUse]) -> BudgetState:
    states = {use.state for use in uses}
    return "spent" if "spent" in states else "warning" if "warning" in states else "ok"


def _state(used: float, allowed: float) -> BudgetState:
    if used >= allowed:
        return "spent"
    return "warning" if used >= WARN_FRACTION * allowed else "ok"
