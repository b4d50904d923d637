"""`/ui/kpis`: the seed's measures over a chosen window, overall and per team, each as a table and a chart, from
`govern.kpis.report`, the function `GET /v1/kpis` answers with; the charts' figures travel in the page as
JSON data (static/kpis.js draws them with the vendored Chart.js), the tables carry the same numbers."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from govern import kpis
from govern.api.deps import ReadSessionDep, listed_team
from govern.console.deps import ConsoleRoute, SignedInDep
from govern.console.params import SinceQuery, TeamQuery, UntilQuery
from govern.console.templating import render
from govern.kpis.schema import Measures

router = APIRouter(prefix="/ui/kpis", route_class=ConsoleRoute)

ALL_TEAMS = "All teams"


@router.get("", include_in_schema=False)
def kpi_page(
    request: Request, signed_in: SignedInDep, session: ReadSessionDep,
    team: TeamQuery = None, since: SinceQuery = None, until: UntilQuery = None,
) -> HTMLResponse:
    """The window as the API reads it (default: the 90 days to now), the team as `listed_team` allows."""
    shown_team = listed_team(request.app.state.engine, signed_in.token, "kpi.read", team)
    try:
        window = kpis.Window.of(since, until)
    except kpis.InvalidWindow as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    report = kpis.report(session, window, shown_team)
    asked = {name: request.query_params.get(name, "") for name in ("team", "since", "until")}
    pinned = {"since": window.since.isoformat(), "until": window.until.isoformat(), **({"team": shown_team} if shown_team else {})}
    return render(
        request, "kpis.html", report=report, asked=asked, listed_team=shown_team, rows=team_rows(report),
        charts=charts(report), api_query=urlencode(pinned), decisions_window=_as_form_times(window),
    )


def _as_form_times(window: kpis.Window) -> dict[str, str]:
    """The window as the decisions page's time fields take it (UTC, to the second), for links into it."""
    return {name: moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") for name, moment in (("since", window.since), ("until", window.until))}


def team_rows(report: kpis.KpiReport) -> list[tuple[str, Measures]]:
    """Each team's measures, then every team's together (when there is more than one team to add up)."""
    rows = list(report.teams.items())
    return [*rows, (ALL_TEAMS, report.overall)] if len(rows) != 1 else rows


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def charts(report: kpis.KpiReport) -> list[dict[str, Any]]:
    """What each chart draws: its labels and series, taken from the report as the tables next to them are."""
    overall = report.overall
    rows = team_rows(report)
    availability = overall.backend_availability
    return [
        {"id": "reproducibility", "unit": "%", "labels": [name for name, _ in rows],
         "series": [{"label": "Reproductions that matched (%)", "values": [_percent(m.reproducibility.rate) for _, m in rows]}]},
        {"id": "lead-time", "unit": "s", "labels": [name for name, _ in rows],
         "series": [{"label": "Median (s)", "values": [m.procurement_lead_time.median_s for _, m in rows]},
                    {"label": "p90 (s)", "values": [m.procurement_lead_time.p90_s for _, m in rows]}]},
        {"id": "pilots", "unit": "", "labels": [quarter.quarter for quarter in overall.pilots_per_quarter],
         "series": [{"label": "Active sandboxes", "values": [quarter.active for quarter in overall.pilots_per_quarter]}]},
        {"id": "queue-wait", "unit": "s", "labels": [wait.backend for wait in overall.queue_wait],
         "series": [{"label": "Median (s)", "values": [wait.median_s for wait in overall.queue_wait]},
                    {"label": "p90 (s)", "values": [wait.p90_s for wait in overall.queue_wait]}]},
        {"id": "availability", "unit": "", "labels": ["ran where asked", *(f"fell back: {cause}" for cause in availability.fallbacks)],
         "series": [{"label": "Primary jobs", "values": [availability.ran_where_asked, *availability.fallbacks.values()]}]},
        {"id": "decisions", "unit": "", "stacked": True, "labels": [name for name, _ in rows],
         "series": [{"label": outcome, "values": [getattr(m.decisions, outcome) for _, m in rows]} for outcome in ("allowed", "warned", "denied")]},
        {"id": "deny-rules", "unit": "", "horizontal": True, "labels": [rule.rule for rule in overall.top_deny_rules],
         "series": [{"label": "Decisions denied", "values": [rule.decisions for rule in overall.top_deny_rules]}]},
    ]
