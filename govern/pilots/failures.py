"""A sandbox's failure record, counted as each primary job ends, in the transaction that ends it and under
the sandbox's row lock (govern.dispatch.costs.settle), so concurrent endings are all counted exactly.

Fallback and reproduction jobs are not counted: the primary job they stand in for or repeat already was. A
primary job that fell back counts as a fallback, never as a failure. A failure the sandbox's failure budget
counts bumps the sandbox's revision, so a submission decided on the record before it re-decides (rule PR-008).
"""

from __future__ import annotations

from decimal import Decimal

from govern.db.tables import JobRecord, JobStatus, SandboxRecord
from govern.dispatch.jobs import JobKind


def counted_kinds(sandbox: SandboxRecord) -> frozenset[str]:
    """The kinds of failure the sandbox's failure budget counts; none for a sandbox without pilot terms."""
    budget = (sandbox.pilot_terms or {}).get("failureBudget") or {}
    return frozenset(budget.get("counts", ()))


def record_ending(sandbox: SandboxRecord, job: JobRecord, charge: Decimal) -> None:
    """Count the ended primary job on the (locked) sandbox row: ended, and failed, cancelled or fallen back,
    with the charge of a failed or cancelled run added to that kind's spend."""
    if job.kind != JobKind.PRIMARY.value:
        return
    sandbox.jobs_ended += 1
    if job.status == JobStatus.FAILED.value:
        sandbox.jobs_failed += 1
        sandbox.failed_spend += charge
    elif job.status == JobStatus.CANCELLED.value:
        sandbox.jobs_cancelled += 1
        sandbox.cancelled_spend += charge
    elif job.status == JobStatus.FALLBACK.value:
        sandbox.jobs_fallen_back += 1
    if job.status in counted_kinds(sandbox):
        sandbox.revision += 1
