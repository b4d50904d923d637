"""What a KPI report says, as `GET /v1/kpis` answers it (its public shape): each measure over the window,
overall and per team. Durations are in seconds; a rate or share with nothing to divide by is null."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Durations(BaseModel):
    count: int = Field(description="How many durations the figures are over.")
    median_s: float | None = None
    p90_s: float | None = Field(default=None, description="90th percentile, interpolated between ranks (as PostgreSQL's percentile_cont).")


class Reproducibility(BaseModel):
    attempted: int = Field(description="Reproductions that finished in the window.")
    matched: int = Field(description="Of those, the ones whose result hashed the same as their original's.")
    rate: float | None = None


class QuarterPilots(BaseModel):
    quarter: str = Field(description="Calendar quarter (UTC), such as 2026-Q4.")
    start: datetime
    end: datetime
    active: int = Field(description="Approved sandboxes whose window overlapped the quarter, approved before it ended and not revoked before it began.")


class BackendWait(Durations):
    backend: str = Field(description="vendor/device the job was queued for.")


class Availability(BaseModel):
    jobs: int = Field(description="Primary jobs that ended in the window, cancelled ones aside.")
    ran_where_asked: int = Field(description="Of those, the ones that did not fall back.")
    share: float | None = None
    fallbacks: dict[str, int] = Field(default_factory=dict, description="Fallbacks by cause: unavailable, queue_minutes, pending_jobs, error, other.")


class Decisions(BaseModel):
    allowed: int = 0
    warned: int = 0
    denied: int = 0
    total: int = 0


class RuleCount(BaseModel):
    rule: str
    decisions: int = Field(description="Decisions in the window the rule denied.")


class Measures(BaseModel):
    reproducibility: Reproducibility
    procurement_lead_time: Durations = Field(description="Sandbox requested → approved, for sandboxes approved in the window.")
    pilots_per_quarter: list[QuarterPilots]
    queue_wait: list[BackendWait] = Field(description="Job queued → handed to its backend, for jobs started in the window, per backend.")
    backend_availability: Availability
    decisions: Decisions
    top_deny_rules: list[RuleCount] = Field(description="The rules that denied the most decisions in the window, at most 10.")


class KpiReport(BaseModel):
    since: datetime
    until: datetime
    team: str | None = Field(description="The one team the report covers, or null for every team the caller may read.")
    overall: Measures
    teams: dict[str, Measures] = Field(description="The same measures for each team with anything in the window.")
