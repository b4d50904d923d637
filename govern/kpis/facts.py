"""The recorded facts each measure is made of, per team, read over the window with SQL aggregates where a
count will do and one number per row where a percentile needs the durations (bounded by the window)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, join, or_, select, true
from sqlmodel import Session, col

from govern.audit.record_format import as_utc
from govern.db.tables import (
    DecisionRecord,
    DecisionRuleRecord,
    JobRecord,
    JobStatus,
    SandboxRecord,
    SubmissionRecord,
    table_of,
)
from govern.dispatch.fallback import fallback_cause
from govern.dispatch.jobs import JobKind
from govern.kpis.seconds import seconds_between
from govern.kpis.window import Window

REASON_CHARS = 200
"""A fallback's reason is read only as far as its cause shows."""


@dataclass
class TeamFacts:
    """One team's facts in the window (or every team's, merged)."""

    attempted: int = 0
    matched: int = 0
    lead_times: list[float] = field(default_factory=list)
    pilots: Counter[str] = field(default_factory=Counter)
    waits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ended: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    denials: Counter[str] = field(default_factory=Counter)

    def merge(self, other: TeamFacts) -> None:
        self.attempted += other.attempted
        self.matched += other.matched
        self.lead_times += other.lead_times
        self.pilots.update(other.pilots)
        for backend, waits in other.waits.items():
            self.waits[backend] += waits
        self.ended += other.ended
        self.fallbacks.update(other.fallbacks)
        self.outcomes.update(other.outcomes)
        self.denials.update(other.denials)


Facts = defaultdict[str, TeamFacts]


def collect(session: Session, window: Window, team: str | None) -> Facts:
    """Every measure's facts, by team; `team` confines them to one."""
    facts: Facts = defaultdict(TeamFacts)
    for read in (_reproductions, _lead_times, _pilots, _queue_waits, _availability, _decisions, _denials):
        read(session, window, team, facts)
    return facts


def _in(column: Any, window: Window) -> Any:
    return and_(column >= window.since, column < window.until)


def _of_team(column: Any, team: str | None) -> Any:
    return column == team if team is not None else true()


def _job_team() -> Any:
    return col(SubmissionRecord.team)


def _jobs_with_team() -> Any:
    """Jobs joined to their submission, whose team they run for."""
    return join(table_of(JobRecord), table_of(SubmissionRecord), col(JobRecord.submission_id) == col(SubmissionRecord.id))


def _reproductions(session: Session, window: Window, team: str | None, facts: Facts) -> None:
    """Reproductions that finished in the window with a verdict, and those that matched their original."""
    rows = session.execute(
        select(_job_team(), func.count(), func.count().filter(col(JobRecord.reproduced).is_(True)))
        .select_from(_jobs_with_team())
        .where(col(JobRecord.kind) == JobKind.REPRODUCTION.value, col(JobRecord.reproduced).is_not(None),
               _in(col(JobRecord.finished_at), window), _of_team(_job_team(), team))
        .group_by(_job_team())
    )
    for row_team, attempted, matched in rows:
        facts[row_team].attempted += attempted
        facts[row_team].matched += matched


def _lead_times(session: Session, window: Window, team: str | None, facts: Facts) -> None:
    """Requested → approved, for the sandboxes approved in the window."""
    rows = session.execute(
        select(col(SandboxRecord.team), seconds_between(col(SandboxRecord.created_at), col(SandboxRecord.approved_at)))
        .where(_in(col(SandboxRecord.approved_at), window), _of_team(col(SandboxRecord.team), team))
    )
    for row_team, seconds in rows:
        facts[row_team].lead_times.append(seconds)


def _pilots(session: Session, window: Window, team: str | None, facts: Facts) -> None:
    """Approved sandboxes active in each quarter the window touches: approved before the quarter ended, their
    window overlapping it, not revoked before it began. Read are only those overlapping the quarters."""
    quarters = window.quarters()
    first, last = quarters[0][1], quarters[-1][2]
    rows = session.execute(
        select(col(SandboxRecord.team), col(SandboxRecord.start), col(SandboxRecord.end), col(SandboxRecord.approved_at),
               col(SandboxRecord.status), col(SandboxRecord.decided_at))
        .where(col(SandboxRecord.approved_at).is_not(None), col(SandboxRecord.approved_at) < last,
               col(SandboxRecord.start) < last, col(SandboxRecord.end) > first,
               or_(col(SandboxRecord.status) != "revoked", col(SandboxRecord.decided_at) > first),
               _of_team(col(SandboxRecord.team), team))
    )
    for row_team, start, end, approved_at, status, decided_at in rows:
        until = min(as_utc(end), as_utc(decided_at)) if status == "revoked" and decided_at else as_utc(end)
        for label, quarter_start, quarter_end in quarters:
            if as_utc(approved_at) < quarter_end and as_utc(start) < quarter_end and until > quarter_start:
                facts[row_team].pilots[label] += 1


def _queue_waits(session: Session, window: Window, team: str | None, facts: Facts) -> None:
    """Queued → handed to the backend (`started_at`, stored as the worker submits), for jobs started in the window."""
    rows = session.execute(
        select(_job_team(), col(JobRecord.vendor), col(JobRecord.device),
               seconds_between(col(JobRecord.created_at), col(JobRecord.started_at)))
        .select_from(_jobs_with_team())
        .where(_in(col(JobRecord.started_at), window), _of_team(_job_team(), team))
    )
    for row_team, vendor, device, seconds in rows:
        facts[row_team].waits[f"{vendor}/{device}"].append(seconds)


def _availability(session: Session, window: Window, team: str | None, facts: Facts) -> None:
    """Primary jobs that ended in the window (cancelled aside), counted; the fallen-back ones by cause."""
    ended = and_(col(JobRecord.kind) == JobKind.PRIMARY.value,
                 col(JobRecord.status).in_((JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.FALLBACK.value)),
                 _in(col(JobRecord.finished_at), window), _of_team(_job_team(), team))
    counts = session.execute(select(_job_team(), func.count()).select_from(_jobs_with_team()).where(ended).group_by(_job_team()))
    for row_team, count in counts:
        facts[row_team].ended += count
    reason = func.substr(col(JobRecord.error), 1, REASON_CHARS)
    reasons = session.execute(
        select(_job_team(), reason, func.count()).select_from(_jobs_with_team())
        .where(ended, col(JobRecord.status) == JobStatus.FALLBACK.value).group_by(_job_team(), reason)
    )
    for row_team, text, count in reasons:
        facts[row_team].fallbacks[fallback_cause(text)] += count


def _decisions(session: Session, window: Window, team: str | None, facts: Facts) -> None:
    rows = session.execute(
        select(col(DecisionRecord.team), col(DecisionRecord.outcome), func.count())
        .where(_in(col(DecisionRecord.recorded_at), window), _of_team(col(DecisionRecord.team), team))
        .group_by(col(DecisionRecord.team), col(DecisionRecord.outcome))
    )
    for row_team, outcome, count in rows:
        facts[row_team].outcomes[outcome] += count


def _denials(session: Session, window: Window, team: str | None, facts: Facts) -> None:
    """Decisions each rule denied, from the rules recorded beside the log (govern.audit.log.fired_rules)."""
    rows = session.execute(
        select(col(DecisionRuleRecord.team), col(DecisionRuleRecord.rule), func.count())
        .where(col(DecisionRuleRecord.effect) == "deny", _in(col(DecisionRuleRecord.recorded_at), window),
               _of_team(col(DecisionRuleRecord.team), team))
        .group_by(col(DecisionRuleRecord.team), col(DecisionRuleRecord.rule))
    )
    for row_team, rule, count in rows:
        facts[row_team].denials[rule] += count
