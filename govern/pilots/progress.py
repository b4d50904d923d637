"""A pilot's progress, worked out from what was recorded: its sandbox's jobs, results, ledger, decisions and
waivers; never from numbers typed in. Counts and sums are SQL aggregates over the sandbox's rows; a figure
that needs one value per row (a percentile, an outcome's share) reads the newest SAMPLE_LIMIT rows."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, join, select
from sqlmodel import Session, col

from govern.db.tables import (
    DecisionRecord,
    DecisionRuleRecord,
    JobRecord,
    JobStatus,
    LedgerEntry,
    ResultRecord,
    SubmissionRecord,
    WaiverRecord,
    table_of,
)
from govern.dispatch.fallback import fallback_cause
from govern.dispatch.jobs import JobKind
from govern.kpis.facts import REASON_CHARS
from govern.kpis.report import durations
from govern.kpis.schema import Availability, Reproducibility
from govern.kpis.seconds import seconds_between
from govern.pilots.baselines import BaselinePair, baseline_pairs, mean_fidelity, median_speedup
from govern.pilots.budget import limit_uses, overall_state
from govern.pilots.schema import (
    LINKS_SHOWN,
    CriterionProgress,
    DecisionCounts,
    FailureBudgetUse,
    PilotProgress,
    Records,
    Spend,
    WaiverInvolved,
)
from govern.pilots.terms import Criterion, Metric
from govern.records.errors import as_utc
from govern.records.procurement import get_sandbox

SAMPLE_LIMIT = 2_000

Measured = tuple[float | None, str, Records]
"""A criterion's value, how it was worked out, and the records it came from."""


def pilot_progress(session: Session, sandbox_id: str, now: datetime) -> PilotProgress | None:
    """The sandbox's pilot as it stands at `now`; None when there is no such sandbox (the caller has checked
    the reader may see it)."""
    sandbox = get_sandbox(session, sandbox_id)
    if sandbox is None:
        return None
    facts = _Facts(session, sandbox_id)
    terms = sandbox.pilot
    record = sandbox.failures
    budget = None
    if terms is not None:
        uses = limit_uses(terms.failure_budget, record)
        budget = FailureBudgetUse(state=overall_state(uses), counts=list(terms.failure_budget.counts), limits=uses, record=record,
                                  records=facts.jobs_with(JobStatus.FAILED, JobStatus.CANCELLED))
    return PilotProgress(
        pilot_id=sandbox.id, team=sandbox.team, vendor=sandbox.vendor, lifecycle=sandbox.lifecycle, start=sandbox.start, end=sandbox.end,
        measured_at=now, terms=terms, criteria=[_progress(criterion, facts) for criterion in (terms.criteria if terms else [])],
        failure_budget=budget,
        spend=Spend(budget=sandbox.budget, spent=sandbox.spent, reserved=sandbox.reserved, currency=sandbox.currency, records=facts.charges()[1]),
        reproducibility=facts.reproducibility(), queue_wait=durations(facts.queue_waits()[0]), availability=facts.availability,
        decisions=facts.decisions(), waivers=facts.waivers(), sample_limit=SAMPLE_LIMIT,
    )


def _progress(criterion: Criterion, facts: _Facts) -> CriterionProgress:
    value, basis, records = MEASURES[criterion.metric](facts, criterion)
    met = None if value is None else value >= criterion.target if criterion.direction == "at_least" else value <= criterion.target
    return CriterionProgress(name=criterion.name, metric=criterion.metric.value, direction=criterion.direction, target=criterion.target,
                             outcome=criterion.outcome, description=criterion.description, value=value, met=met, basis=basis, records=records)


class _Facts:
    """The sandbox's records, read as each measure asks for them."""

    def __init__(self, session: Session, sandbox_id: str):
        self.session, self.sandbox_id = session, sandbox_id

    def _jobs(self, kind: JobKind) -> Any:
        return (select().select_from(join(table_of(JobRecord), table_of(SubmissionRecord), col(JobRecord.submission_id) == col(SubmissionRecord.id)))
                .where(col(SubmissionRecord.sandbox) == self.sandbox_id, col(JobRecord.kind) == kind.value))

    @functools.cached_property
    def statuses(self) -> Counter[str]:
        """Primary jobs by status: read once, though several measures ask."""
        rows = self.session.execute(self._jobs(JobKind.PRIMARY).add_columns(col(JobRecord.status), func.count()).group_by(col(JobRecord.status)))
        return Counter({status: count for status, count in rows})

    @functools.cached_property
    def baseline_pairs(self) -> list[BaselinePair]:
        return baseline_pairs(self.session, self.sandbox_id, SAMPLE_LIMIT)

    def jobs_with(self, *statuses: JobStatus) -> Records:
        wanted = [status.value for status in statuses]
        total = self.session.execute(self._jobs(JobKind.PRIMARY).add_columns(func.count()).where(col(JobRecord.status).in_(wanted))).scalar_one()
        rows = self.session.execute(self._jobs(JobKind.PRIMARY).add_columns(col(JobRecord.id), col(JobRecord.run_id))
                                    .where(col(JobRecord.status).in_(wanted)).order_by(col(JobRecord.created_at).desc()).limit(LINKS_SHOWN)).all()
        return Records(total=total, jobs=[row[0] for row in rows], runs=[row[1] for row in rows])

    def charges(self) -> tuple[Decimal, Records]:
        where = (col(LedgerEntry.sandbox_id) == self.sandbox_id, col(LedgerEntry.kind) == "charge")
        total, count = self.session.execute(select(func.coalesce(func.sum(col(LedgerEntry.amount)), 0), func.count()).where(*where)).one()
        ids = self.session.execute(select(col(LedgerEntry.id)).where(*where).order_by(col(LedgerEntry.id).desc()).limit(LINKS_SHOWN)).scalars()
        return Decimal(str(total)), Records(total=count, ledger=list(ids))

    def queue_waits(self) -> tuple[list[float], Records]:
        rows = self.session.execute(
            self._jobs(JobKind.PRIMARY).add_columns(col(JobRecord.id), col(JobRecord.run_id), seconds_between(col(JobRecord.created_at), col(JobRecord.started_at)))
            .where(col(JobRecord.started_at).is_not(None)).order_by(col(JobRecord.started_at).desc()).limit(SAMPLE_LIMIT)
        ).all()
        return [float(row[2]) for row in rows], Records(total=len(rows), jobs=[row[0] for row in rows[:LINKS_SHOWN]], runs=[row[1] for row in rows[:LINKS_SHOWN]])

    def reproducibility(self) -> Reproducibility:
        attempted, matched = self.session.execute(
            self._jobs(JobKind.REPRODUCTION).add_columns(func.count(), func.count().filter(col(JobRecord.reproduced).is_(True)))
            .where(col(JobRecord.reproduced).is_not(None))
        ).one()
        return Reproducibility(attempted=attempted, matched=matched, rate=matched / attempted if attempted else None)

    @functools.cached_property
    def availability(self) -> Availability:
        statuses = self.statuses
        ended = sum(statuses[s.value] for s in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.FALLBACK))
        reason = func.substr(col(JobRecord.error), 1, REASON_CHARS)
        causes: Counter[str] = Counter()
        for text, count in self.session.execute(self._jobs(JobKind.PRIMARY).add_columns(reason, func.count())
                                                .where(col(JobRecord.status) == JobStatus.FALLBACK.value).group_by(reason)):
            causes[fallback_cause(text)] += count
        fell_back = sum(causes.values())
        return Availability(jobs=ended, ran_where_asked=ended - fell_back, share=(ended - fell_back) / ended if ended else None,
                            fallbacks=dict(sorted(causes.items())))

    def outcome_counts(self) -> tuple[list[dict[str, Any]], Records]:
        rows = self.session.execute(
            self._jobs(JobKind.PRIMARY).join(table_of(ResultRecord), col(ResultRecord.job_id) == col(JobRecord.id))
            .add_columns(col(JobRecord.id), col(JobRecord.run_id), col(ResultRecord.counts))
            .where(col(JobRecord.status) == JobStatus.SUCCEEDED.value).order_by(col(JobRecord.finished_at).desc()).limit(SAMPLE_LIMIT)
        ).all()
        return [row[2] for row in rows], Records(total=len(rows), jobs=[row[0] for row in rows[:LINKS_SHOWN]], runs=[row[1] for row in rows[:LINKS_SHOWN]])

    def decisions(self) -> DecisionCounts:
        by_sandbox = col(SubmissionRecord.sandbox) == self.sandbox_id
        outcomes = Counter({outcome: count for outcome, count in self.session.execute(
            select(col(SubmissionRecord.outcome), func.count()).where(by_sandbox).group_by(col(SubmissionRecord.outcome)))})
        waived = self.session.execute(
            select(func.count(func.distinct(col(DecisionRecord.seq))))
            .select_from(join(join(table_of(SubmissionRecord), table_of(DecisionRecord), col(SubmissionRecord.decision_id) == col(DecisionRecord.decision_id)),
                              table_of(DecisionRuleRecord), col(DecisionRuleRecord.seq) == col(DecisionRecord.seq)))
            .where(by_sandbox, col(DecisionRuleRecord.effect) == "waived")
        ).scalar_one()
        latest = self.session.execute(select(col(SubmissionRecord.decision_id)).where(by_sandbox)
                                      .order_by(col(SubmissionRecord.number).desc()).limit(LINKS_SHOWN)).scalars()
        return DecisionCounts(allowed=outcomes["allowed"], warned=outcomes["warned"], denied=outcomes["denied"], waived=waived,
                              records=Records(total=sum(outcomes.values()), decisions=list(latest)))

    def waivers(self) -> list[WaiverInvolved]:
        rows = self.session.execute(select(WaiverRecord).where(col(WaiverRecord.sandbox) == self.sandbox_id)
                                    .order_by(col(WaiverRecord.created_at).desc()).limit(LINKS_SHOWN)).scalars()
        return [WaiverInvolved(id=row.id, rule=row.rule, status=row.status, approver=row.approver, expires=as_utc(row.expires), reason=row.reason)
                for row in rows]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _success_rate(facts: _Facts, _: Criterion) -> Measured:
    statuses = facts.statuses
    ended = sum(statuses[s.value] for s in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.FALLBACK))
    records = facts.jobs_with(JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.FALLBACK)
    return _share(statuses[JobStatus.SUCCEEDED.value], ended), f"{statuses[JobStatus.SUCCEEDED.value]} of {ended} primary jobs succeeded where asked", records


def _availability(facts: _Facts, _: Criterion) -> Measured:
    availability = facts.availability
    records = facts.jobs_with(JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.FALLBACK)
    return availability.share, f"{availability.ran_where_asked} of {availability.jobs} primary jobs ran where asked", records


def _cost_per_job(facts: _Facts, _: Criterion) -> Measured:
    total, records = facts.charges()
    succeeded = facts.statuses[JobStatus.SUCCEEDED.value]
    value = float(total) / succeeded if succeeded else None
    return value, f"{total} charged over {succeeded} succeeded primary jobs ({records.total} ledger charges)", records


def _queue_wait(facts: _Facts, _: Criterion) -> Measured:
    waits, records = facts.queue_waits()
    return durations(waits).p90_s, f"90th percentile of {len(waits)} queue waits (newest, at most {SAMPLE_LIMIT})", records


def _reproducibility(facts: _Facts, _: Criterion) -> Measured:
    reproduced = facts.reproducibility()
    return reproduced.rate, f"{reproduced.matched} of {reproduced.attempted} reproductions matched their original", Records(total=reproduced.attempted)


def _outcome_probability(facts: _Facts, criterion: Criterion) -> Measured:
    results, records = facts.outcome_counts()
    wanted, shots = 0, 0
    for counts in results:
        for key, count in counts.items():
            shots += int(count)
            wanted += int(count) if str(key).replace(" ", "") == criterion.outcome else 0
    return _share(wanted, shots), f"{wanted} of {shots} shots gave {criterion.outcome} over {len(results)} results", records


def _baseline_fidelity(facts: _Facts, _: Criterion) -> Measured:
    return mean_fidelity(facts.baseline_pairs)


def _baseline_speedup(facts: _Facts, _: Criterion) -> Measured:
    return median_speedup(facts.baseline_pairs)


MEASURES: dict[Metric, Callable[[_Facts, Criterion], Measured]] = {
    Metric.SUCCESS_RATE: _success_rate, Metric.AVAILABILITY: _availability, Metric.COST_PER_JOB: _cost_per_job,
    Metric.QUEUE_WAIT_P90_S: _queue_wait, Metric.REPRODUCIBILITY_RATE: _reproducibility, Metric.OUTCOME_PROBABILITY: _outcome_probability,
    Metric.BASELINE_FIDELITY: _baseline_fidelity, Metric.BASELINE_SPEEDUP: _baseline_speedup,
}
"""How each metric is measured; a test checks every Metric has one."""
