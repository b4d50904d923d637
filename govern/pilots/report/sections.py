"""What the pilot report says, as sections of lines, before any format draws it: each line a figure, its
verdict where it has one, and links to the records it came from. Formatters read this; none changes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from govern.pilots.schema import PilotProgress, Records


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Line:
    label: str
    value: str
    verdict: str = ""
    """met, not met, not measurable yet, or spent/warning/ok for the failure budget; empty where none applies."""
    links: list[Link] = field(default_factory=list)
    more: int = 0
    """How many more records there are than links shown."""


@dataclass(frozen=True)
class Section:
    heading: str
    lines: list[Line]


@dataclass(frozen=True)
class Report:
    title: str
    objective: str
    overall: str
    sections: list[Section]
    footnote: str


LINKS_PER_LINE = 10
"""A line of the one-page report links this many records at most and counts the rest."""


def _links(records: Records, sandbox: str) -> tuple[list[Link], int]:
    """Links to a figure's records (a job's page names its run), and how many more there are than shown."""
    links = [Link(f"decision {d[:8]}", f"/ui/decisions/{quote(d)}") for d in records.decisions]
    links += [Link(f"job {job[:8]}", f"/v1/jobs/{quote(job)}") for job in records.jobs]
    links += [Link(f"ledger #{entry}", f"/v1/sandboxes/{quote(sandbox)}/ledger#{entry}") for entry in records.ledger]
    shown = links[:LINKS_PER_LINE]
    return shown, max(records.total - len(shown), 0)


def _line(label: str, value: str, verdict: str, records: Records, sandbox: str) -> Line:
    links, more = _links(records, sandbox)
    return Line(label, value, verdict, links, more)


def _number(value: float | None) -> str:
    return "nothing measured yet" if value is None else f"{value:.4g}"


def build(progress: PilotProgress) -> Report:
    sandbox = progress.pilot_id
    criteria = [
        _line(c.name, f"{_number(c.value)} against {'at least' if c.direction == 'at_least' else 'at most'} {c.target:g} "
              f"({c.metric}{' of ' + c.outcome if c.outcome else ''}; {c.basis})",
              "not measurable yet" if c.met is None else "met" if c.met else "not met", c.records, sandbox)
        for c in progress.criteria
    ]
    spend = progress.spend
    money = [_line("Spend", f"{spend.spent} {spend.currency} spent and {spend.reserved} reserved of a {spend.budget} budget",
                   "", spend.records, sandbox)]
    budget = progress.failure_budget
    failures = [] if budget is None else [
        _line("Failure budget", f"{budget.record.failed} failed, {budget.record.cancelled} cancelled, {budget.record.fallen_back} fell back "
              f"(not a failure) of {budget.record.ended} ended; counting {' and '.join(budget.counts)}", budget.state, budget.records, sandbox),
        *(Line(f"  {use.limit}", f"{use.used:.4g} used of {use.allowed:.4g}", use.state) for use in budget.limits),
    ]
    availability, wait, reproduced = progress.availability, progress.queue_wait, progress.reproducibility
    operations = [
        Line("Reproducibility", f"{reproduced.matched} of {reproduced.attempted} reproductions matched ({_rate(reproduced.rate)})"),
        Line("Queue wait", f"median {_seconds(wait.median_s)}, p90 {_seconds(wait.p90_s)} over {wait.count} jobs"),
        Line("Availability", f"{availability.ran_where_asked} of {availability.jobs} ran where asked ({_rate(availability.share)}); "
             f"fallbacks by cause: {', '.join(f'{k} {v}' for k, v in availability.fallbacks.items()) or 'none'}"),
    ]
    decisions = progress.decisions
    governance = [
        _line("Decisions", f"{decisions.allowed} allowed, {decisions.warned} warned, {decisions.denied} denied; {decisions.waived} with a waiver",
              "", decisions.records, sandbox),
        *(Line(f"Waiver {w.id[:8]}", f"{w.rule}, {w.status}, approved by {w.approver or 'nobody yet'}, until {w.expires:%Y-%m-%d}: {w.reason[:200]}",
               "", [Link(f"waiver {w.id[:8]}", f"/v1/waivers/{quote(w.id)}")]) for w in progress.waivers[:LINKS_PER_LINE]),
    ]
    verdicts = [line.verdict for line in criteria]
    overall = (f"{verdicts.count('met')} of {len(verdicts)} criteria met" if verdicts else "no success criteria on record")
    if budget is not None and budget.state == "spent":
        overall += "; failure budget spent"
    return Report(
        title=f"Pilot {sandbox} ({progress.team}, {progress.vendor})",
        objective=progress.terms.objective if progress.terms else "This sandbox was approved without pilot terms.",
        overall=overall,
        sections=[Section("Success criteria", criteria), Section("Spend", money), Section("Failures", failures),
                  Section("Operations", operations), Section("Decisions and waivers", governance)],
        footnote=(f"{progress.lifecycle}, window {progress.start:%Y-%m-%d} to {progress.end:%Y-%m-%d}; measured {progress.measured_at:%Y-%m-%d %H:%M} UTC "
                  f"from the records (per-row figures over the newest {progress.sample_limit}). Links are paths on the govern service."),
    )


def _rate(rate: float | None) -> str:
    return "nothing to divide by" if rate is None else f"{rate:.1%}"


def _seconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3g} s"
