"""A pilot's progress as its sandbox's console page shows it: the API's own measure (pilot_progress), each
figure in its metric's unit, and its records as console links: a decision to its page, a job to its row on
its submission's page, the job's run to its experiment's lineage graph, a ledger entry to the ledger page it
opens. A record whose page the reader may not open (procurement reads every sandbox, not every team's
submissions) is named, not linked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from sqlalchemy import join, select
from sqlmodel import Session, col

from govern.api.deps import authorization
from govern.db.public import SandboxPublic, TokenPublic
from govern.db.tables import JobRecord, SubmissionRecord, table_of
from govern.lineage.submission_events import job_namespace
from govern.pilots.progress import pilot_progress
from govern.pilots.schema import CriterionProgress, PilotProgress, Records
from govern.pilots.terms import SHARES, Metric
from govern.policy.engines import PolicyEngine

LINKS_SHOWN = 10
"""The records one figure links on the page; the rest are counted."""
VERDICTS = {True: "met", False: "not met", None: "no data yet"}
LINKED_PAGES = ("decision", "submission", "lineage")
"""The pages a figure's records open, each behind its `<page>.read` permission."""


@dataclass(frozen=True)
class Link:
    text: str
    href: str | None
    """None where the reader may not open the record's page."""


@dataclass(frozen=True)
class Links:
    shown: list[Link]
    more: int
    """How many more records the figure came from than are shown."""


@dataclass(frozen=True)
class CriterionRow:
    criterion: CriterionProgress
    measured: str
    target: str
    verdict: str
    links: Links


@dataclass(frozen=True)
class PilotView:
    progress: PilotProgress
    criteria: list[CriterionRow]
    failures: Links
    """The failed and cancelled primary jobs."""
    decisions: Links
    """The newest decisions on submissions billed to the sandbox."""


def pilot_view(session: Session, sandbox: SandboxPublic, now: datetime, engine: PolicyEngine, token: TokenPublic) -> PilotView | None:
    """The progress of a sandbox with pilot terms (the caller has checked the reader may see it); None for
    one without, whose page has no progress to show."""
    progress = pilot_progress(session, sandbox.id, now) if sandbox.pilot is not None else None
    if progress is None or progress.failure_budget is None:
        return None
    failed = progress.failure_budget.records
    jobs = _jobs(session, {job for records in [failed, *(c.records for c in progress.criteria)] for job in records.jobs[:LINKS_SHOWN]})
    may = {page: authorization(engine, token, f"{page}.read", {"team": sandbox.team}).allow for page in LINKED_PAGES}
    linker = _Linker(sandbox.id, jobs, may)
    rows = [CriterionRow(c, _unit(c.metric, c.value, sandbox.currency), _unit(c.metric, c.target, sandbox.currency), VERDICTS[c.met],
                         linker.links(c.records)) for c in progress.criteria]
    return PilotView(progress, rows, linker.links(failed), linker.links(progress.decisions.records))


def _unit(metric: str, value: float | None, currency: str) -> str:
    if value is None:
        return "-"
    if Metric(metric) in SHARES:
        return f"{value * 100:.4g}%"
    if metric == Metric.COST_PER_JOB.value:
        return f"{value:,.2f} {currency}"
    if metric == Metric.BASELINE_SPEEDUP.value:
        return f"{value:.4g}×"
    return f"{value:.4g} s"


@dataclass(frozen=True)
class _Job:
    submission: str
    lineage_node: str


def _jobs(session: Session, ids: set[str]) -> dict[str, _Job]:
    """The submission and the lineage job (`job:<team's namespace>:<experiment>`) of each job."""
    if not ids:
        return {}
    rows = session.execute(
        select(col(JobRecord.id), col(SubmissionRecord.id), col(SubmissionRecord.team), col(SubmissionRecord.name))
        .select_from(join(table_of(JobRecord), table_of(SubmissionRecord), col(JobRecord.submission_id) == col(SubmissionRecord.id)))
        .where(col(JobRecord.id).in_(sorted(ids)))
    )
    return {job: _Job(submission, f"job:{job_namespace(team)}:{name}") for job, submission, team, name in rows}


@dataclass(frozen=True)
class _Linker:
    sandbox: str
    jobs: dict[str, _Job]
    may: dict[str, bool]
    """Whether the reader may open each of LINKED_PAGES for the sandbox's team."""

    def links(self, records: Records) -> Links:
        """At most LINKS_SHOWN records: decisions first, then jobs (each with its run), then ledger entries."""
        decisions = records.decisions[:LINKS_SHOWN]
        links = [Link(f"decision {d[:8]}", self._href("decision", f"/ui/decisions/{quote(d, safe='')}")) for d in decisions]
        pairs = list(zip(records.jobs, records.runs, strict=False))[:LINKS_SHOWN - len(decisions)]
        for job, run in pairs:
            if found := self.jobs.get(job):
                links.append(Link(f"job {job[:8]}", self._href("submission", f"/ui/submissions/{quote(found.submission, safe='')}#job-{quote(job, safe='')}")))
                links.append(Link(f"run {run[:8]}", self._href("lineage", "/ui/lineage?" + urlencode({"node": found.lineage_node}))))
        entries = records.ledger[:LINKS_SHOWN - len(decisions) - len(pairs)]
        links += [Link(f"ledger #{entry}", f"/ui/sandboxes/{quote(self.sandbox, safe='')}?after={entry - 1}") for entry in entries]
        return Links(links, max(records.total - len(decisions) - len(pairs) - len(entries), 0))

    def _href(self, page: str, href: str) -> str | None:
        return href if self.may[page] else None
