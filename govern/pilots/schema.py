"""What `GET /v1/sandboxes/{id}/pilot` answers: the pilot's terms and its progress against them, each
figure with the ids of the records it was worked out from (bounded; `total` says how many there are)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from govern.kpis.schema import Availability, Durations, Reproducibility
from govern.pilots.terms import FailureRecord, PilotTerms

LINKS_SHOWN = 50
"""The most record ids one figure lists; `total` counts all of them."""


class Records(BaseModel):
    """The records a figure was worked out from: job (and their run) ids, ledger entry ids, decision ids."""

    total: int = 0
    jobs: list[str] = Field(default_factory=list)
    runs: list[str] = Field(default_factory=list)
    ledger: list[int] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)


class CriterionProgress(BaseModel):
    name: str
    metric: str
    direction: Literal["at_least", "at_most"]
    target: float
    outcome: str | None = None
    description: str = ""
    value: float | None = Field(description="Measured from the records; null while there is nothing to measure.")
    met: bool | None = Field(description="Whether the value meets the target; null while there is nothing to measure.")
    basis: str = Field(description="How the value was worked out, in words.")
    records: Records


LimitName = Literal["maxFailedJobs", "maxFailedShare", "maxFailedSpend"]
BudgetState = Literal["ok", "warning", "spent"]


class LimitUse(BaseModel):
    limit: LimitName
    used: float
    allowed: float
    state: BudgetState = Field(description="spent when used reaches allowed (PR-008 denies), warning from 80% (PR-103).")


class FailureBudgetUse(BaseModel):
    state: BudgetState
    counts: list[str] = Field(description="The kinds of failure that count; a fallback never does.")
    limits: list[LimitUse]
    record: FailureRecord
    records: Records = Field(description="The failed and cancelled primary jobs.")


class Spend(BaseModel):
    budget: Decimal
    spent: Decimal
    reserved: Decimal
    currency: str
    records: Records = Field(description="The ledger's charge entries.")


class DecisionCounts(BaseModel):
    allowed: int = 0
    warned: int = 0
    denied: int = 0
    waived: int = Field(default=0, description="Decisions in which a waiver turned a deny into a recorded waived finding.")
    records: Records = Field(default_factory=Records, description="The newest decisions on submissions billed to the sandbox.")


class WaiverInvolved(BaseModel):
    id: str
    rule: str
    status: str
    approver: str | None
    expires: datetime
    reason: str


class PilotProgress(BaseModel):
    pilot_id: str = Field(description="The pilot's id: its sandbox's.")
    team: str
    vendor: str
    lifecycle: str
    start: datetime
    end: datetime
    measured_at: datetime
    terms: PilotTerms | None = Field(description="null for a sandbox approved without pilot terms.")
    criteria: list[CriterionProgress]
    failure_budget: FailureBudgetUse | None
    spend: Spend
    reproducibility: Reproducibility
    queue_wait: Durations
    availability: Availability
    decisions: DecisionCounts
    waivers: list[WaiverInvolved]
    sample_limit: int = Field(description="The most rows one per-row figure (percentiles, outcome shares) reads: the newest.")
