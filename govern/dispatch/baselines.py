"""Classical baselines (spec.baseline): the earlier run a recorded baseline names, checked when the
submission is made; the simulator baseline run queued beside an allowed submission's job, its START
pointing at the run it is the baseline of; and a result's comparison with its baseline's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qiskit.quantum_info import hellinger_fidelity
from sqlmodel import Session, col, select

from govern.db.public import BaselinePublic
from govern.db.tables import JobRecord, JobStatus, ResultRecord, SubmissionRecord
from govern.dispatch.jobs import DISPATCH_KINDS, baseline_job
from govern.lineage import outbox, run_events
from govern.records.errors import RecordError


def recorded_baseline(session: Session, submission_id: str, team: str, bundle_data: Mapping[str, Any]) -> JobRecord:
    """The succeeded run of the team's earlier submission `submission_id` on a catalogued local simulator; a
    422 naming the field otherwise. Another team's submission reads as one that does not exist, so ids
    cannot be probed."""
    backends = bundle_data.get("govern", {}).get("backends", {})
    runs = session.exec(
        select(JobRecord).join(SubmissionRecord, col(SubmissionRecord.id) == JobRecord.submission_id)
        .where(JobRecord.submission_id == submission_id, SubmissionRecord.team == team,
               col(JobRecord.kind).in_(DISPATCH_KINDS), JobRecord.status == JobStatus.SUCCEEDED.value)
    ).all()
    for run in runs:
        if backends.get(run.device, {}).get("class") == "local_simulator":
            return run
    raise RecordError(f"spec.baseline.recorded: team {team!r} has no submission {submission_id} with a succeeded run "
                      "on a local simulator to stand as the classical baseline", 422)


def queue_baseline(session: Session, primary: JobRecord, device: str) -> None:
    """Queue `primary`'s simulator baseline in the transaction that queues `primary` (which announces them);
    called once the primary's START is in the outbox, since the baseline's START builds on it."""
    job = baseline_job(primary, device)
    session.add(job)
    outbox.enqueue(session, run_events.child_start(run_events.started(session, primary.run_id), primary, job))


def fidelity(counts: Mapping[str, int], baseline_counts: Mapping[str, int]) -> float | None:
    """How close two results' outcome distributions are (1 the same, 0 disjoint); None if either is empty."""
    if not sum(counts.values()) or not sum(baseline_counts.values()):
        return None
    return float(hellinger_fidelity(dict(counts), dict(baseline_counts)))


def baseline_of(session: Session, job: JobRecord, result: ResultRecord) -> BaselinePublic | None:
    """The baseline `job`'s `result` is compared with, as it stands; None when the experiment named none."""
    if job.baseline_job_id is None:
        return None
    baseline = session.get(JobRecord, job.baseline_job_id)
    if baseline is None:
        return None
    baseline_result = session.get(ResultRecord, baseline.id)
    return BaselinePublic(
        kind="simulator" if baseline.submission_id == job.submission_id else "recorded", job_id=baseline.id,
        run_id=baseline.run_id, submission_id=baseline.submission_id, device=baseline.device, status=baseline.status,
        hellinger_fidelity=fidelity(result.counts, baseline_result.counts) if baseline_result is not None else None,
    )
