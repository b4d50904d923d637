"""The seed's KPIs over HTTP: `GET /v1/kpis`, the report the console's KPI page shows, as JSON for other
dashboards (govern.kpis)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from govern import kpis
from govern.api.deps import PolicyEngineDep, ReadSessionDep, TokenDep, listed_team
from govern.api.params import Since, TeamFilter, Until
from govern.api.refusals import refusals

router = APIRouter(prefix="/v1/kpis", tags=["kpis"])


@router.get("", responses=refusals(403, 422))
def read_kpis(token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep, team: TeamFilter = None,
              since: Since = None, until: Until = None) -> kpis.KpiReport:
    """Each measure over [since, until) (default: the 90 days to now; at most five years), overall and per
    team. Without `team`: every team's for a caller who may read any (`kpi.read`), its own team's otherwise."""
    try:
        window = kpis.Window.of(since, until)
    except kpis.InvalidWindow as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return kpis.report(session, window, listed_team(engine, token, "kpi.read", team))
