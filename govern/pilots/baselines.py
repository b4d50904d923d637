"""Criteria measured against classical baselines (spec.baseline): each succeeded primary job of the
sandbox paired with its baseline's result, newest SAMPLE_LIMIT pairs."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from sqlalchemy import join, select
from sqlmodel import Session, col

from govern.db.tables import JobRecord, JobStatus, ResultRecord, SubmissionRecord, table_of
from govern.dispatch.baselines import fidelity
from govern.dispatch.jobs import JobKind
from govern.kpis.seconds import seconds_between
from govern.pilots.schema import LINKS_SHOWN, Records


@dataclass(frozen=True)
class BaselinePair:
    """A succeeded primary job's result beside its baseline's, with both runs' durations in seconds."""

    job_id: str
    run_id: str
    baseline_job_id: str
    baseline_run_id: str
    counts: dict[str, Any]
    baseline_counts: dict[str, Any]
    seconds: float | None
    baseline_seconds: float | None


def baseline_pairs(session: Session, sandbox_id: str, limit: int) -> list[BaselinePair]:
    """The sandbox's succeeded primary jobs whose baseline succeeded too, newest first."""
    baseline, baseline_result = table_of(JobRecord).alias("baseline"), table_of(ResultRecord).alias("baseline_result")
    rows = session.execute(
        select(col(JobRecord.id), col(JobRecord.run_id), baseline.c.id, baseline.c.run_id, col(ResultRecord.counts), baseline_result.c.counts,
               seconds_between(col(JobRecord.started_at), col(JobRecord.finished_at)),
               seconds_between(baseline.c.started_at, baseline.c.finished_at))
        .select_from(join(table_of(JobRecord), table_of(SubmissionRecord), col(JobRecord.submission_id) == col(SubmissionRecord.id)))
        .join(table_of(ResultRecord), col(ResultRecord.job_id) == col(JobRecord.id))
        .join(baseline, baseline.c.id == col(JobRecord.baseline_job_id))
        .join(baseline_result, baseline_result.c.job_id == baseline.c.id)
        .where(col(SubmissionRecord.sandbox) == sandbox_id, col(JobRecord.kind) == JobKind.PRIMARY.value,
               col(JobRecord.status) == JobStatus.SUCCEEDED.value)
        .order_by(col(JobRecord.finished_at).desc()).limit(limit)
    ).all()
    return [BaselinePair(*row) for row in rows]


def _records(pairs: list[BaselinePair]) -> Records:
    """Both jobs of each pair, each beside its run (`jobs` and `runs` pair up by position, as every figure's do)."""
    shown = pairs[:LINKS_SHOWN // 2]
    return Records(total=2 * len(pairs), jobs=[job for pair in shown for job in (pair.job_id, pair.baseline_job_id)],
                   runs=[run for pair in shown for run in (pair.run_id, pair.baseline_run_id)])


def mean_fidelity(pairs: list[BaselinePair]) -> tuple[float | None, str, Records]:
    values = [value for pair in pairs if (value := fidelity(pair.counts, pair.baseline_counts)) is not None]
    mean = round(statistics.fmean(values), 6) if values else None
    return mean, f"mean Hellinger fidelity to the classical baseline over {_jobs(len(values))}", _records(pairs)


def median_speedup(pairs: list[BaselinePair]) -> tuple[float | None, str, Records]:
    ratios = [pair.baseline_seconds / pair.seconds for pair in pairs
              if pair.seconds and pair.baseline_seconds is not None and pair.seconds > 0]
    median = round(statistics.median(ratios), 6) if ratios else None
    return median, f"median of baseline run time over job run time for {_jobs(len(ratios))}", _records(pairs)


def _jobs(count: int) -> str:
    return f"{count} succeeded job" if count == 1 else f"{count} succeeded jobs"
