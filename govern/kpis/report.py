"""A KPI report: the window's facts (govern.kpis.facts) made into each measure, for every team and overall."""

from __future__ import annotations

import statistics

from sqlmodel import Session

from govern.kpis.facts import TeamFacts, collect
from govern.kpis.schema import (
    Availability,
    BackendWait,
    Decisions,
    Durations,
    KpiReport,
    Measures,
    QuarterPilots,
    Reproducibility,
    RuleCount,
)
from govern.kpis.window import Window

TOP_RULES = 10


def report(session: Session, window: Window, team: str | None = None) -> KpiReport:
    """The measures over `window`, overall and per team; `team` confines them to that team (the caller has
    checked it may read it: `kpi.read`)."""
    facts = collect(session, window, team)
    overall = TeamFacts()
    for each in facts.values():
        overall.merge(each)
    return KpiReport(
        since=window.since, until=window.until, team=team, overall=measures(overall, window),
        teams={name: measures(facts[name], window) for name in sorted(facts)},
    )


def measures(facts: TeamFacts, window: Window) -> Measures:
    fell_back = sum(facts.fallbacks.values())
    outcomes = facts.outcomes
    return Measures(
        reproducibility=Reproducibility(attempted=facts.attempted, matched=facts.matched, rate=_share(facts.matched, facts.attempted)),
        procurement_lead_time=durations(facts.lead_times),
        pilots_per_quarter=[QuarterPilots(quarter=label, start=start, end=end, active=facts.pilots[label])
                            for label, start, end in window.quarters()],
        queue_wait=[BackendWait(backend=backend, **durations(waits).model_dump()) for backend, waits in sorted(facts.waits.items())],
        backend_availability=Availability(jobs=facts.ended, ran_where_asked=facts.ended - fell_back,
                                          share=_share(facts.ended - fell_back, facts.ended), fallbacks=dict(sorted(facts.fallbacks.items()))),
        decisions=Decisions(allowed=outcomes["allowed"], warned=outcomes["warned"], denied=outcomes["denied"], total=sum(outcomes.values())),
        top_deny_rules=[RuleCount(rule=rule, decisions=count)
                        for rule, count in sorted(facts.denials.items(), key=lambda item: (-item[1], item[0]))[:TOP_RULES]],
    )


def durations(seconds: list[float]) -> Durations:
    """Median and 90th percentile, interpolated between ranks (statistics' inclusive method, which is what
    PostgreSQL's percentile_cont computes), to the millisecond."""
    if not seconds:
        return Durations(count=0)
    p90 = statistics.quantiles(seconds, n=10, method="inclusive")[8] if len(seconds) > 1 else seconds[0]
    return Durations(count=len(seconds), median_s=round(statistics.median(seconds), 3), p90_s=round(p90, 3))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
