"""A pilot's terms, as procurement approves them with its sandbox: the objective, measurable success
criteria and a failure budget. Every number is bounded here, so a request cannot store what a policy or a
report could not compare."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from govern.json_values import text_flaw
from govern.manifest.schema import Identifier, Strict

TARGET_BOUND = 1e12
"""The largest target a criterion may name: beyond any cost, time or speed-up a pilot measures."""


def _storable(text: str) -> str:
    """Terms typed into the console's form are parsed there (json.loads), not by the service's strict body
    parser, so an escaped NUL reaches this model; the lineage store and PostgreSQL text refuse it. (A lone
    surrogate never does: pydantic refuses it as a string.)"""
    if (flaw := text_flaw(text, surrogates=False)) is not None:
        raise ValueError(f"text with a {flaw.value} cannot be stored")
    return text


STORABLE = AfterValidator(_storable)


class Metric(str, enum.Enum):
    """What a criterion measures, each worked out from recorded jobs, results, ledger entries and timings
    (govern.pilots.progress), never typed in."""

    SUCCESS_RATE = "success_rate"
    """Primary jobs that succeeded on the device asked for, over the primary jobs that ended."""
    AVAILABILITY = "availability"
    """Primary jobs that ran where asked (did not fall back), over the primary jobs that ended."""
    COST_PER_JOB = "cost_per_job"
    """Charged spend (the sandbox's ledger `charge` entries) over the primary jobs that succeeded."""
    QUEUE_WAIT_P90_S = "queue_wait_p90_s"
    """90th percentile of queued → handed to the backend, in seconds."""
    REPRODUCIBILITY_RATE = "reproducibility_rate"
    """Reproductions whose result hashed the same as their original's, over those with a verdict."""
    OUTCOME_PROBABILITY = "outcome_probability"
    """A result field: the share of all shots, over the succeeded jobs' results, that gave `outcome`."""
    BASELINE_FIDELITY = "baseline_fidelity"
    """Mean Hellinger fidelity of the succeeded primary jobs' results to their classical baselines' results
    (spec.baseline): 1 when quantum and classical give the same distribution."""
    BASELINE_SPEEDUP = "baseline_speedup"
    """Median, over succeeded primary jobs with a succeeded baseline, of the baseline's run time over the
    job's (started → finished): above 1, the job ran faster than its classical baseline."""


SHARES = frozenset({Metric.SUCCESS_RATE, Metric.AVAILABILITY, Metric.REPRODUCIBILITY_RATE, Metric.OUTCOME_PROBABILITY,
                    Metric.BASELINE_FIDELITY})
"""The metrics that are a share or a fidelity, from 0 to 1; the others (a cost, a time, a speed-up) are from 0
to TARGET_BOUND."""


class Criterion(Strict):
    """One measurable success criterion: `metric` compared with `target` in `direction`."""

    name: Annotated[Identifier, STORABLE]
    metric: Metric
    direction: Literal["at_least", "at_most"]
    target: Annotated[float, Field(strict=True, ge=0, le=TARGET_BOUND)] = Field(
        description="A number (not text, not a boolean): a share or fidelity from 0 to 1, or a cost, time or speed-up from 0."
    )
    outcome: Annotated[str, StringConstraints(pattern=r"^[01]{1,64}$")] | None = Field(
        default=None, description="The bitstring an outcome_probability criterion counts (and only it)."
    )
    description: Annotated[str, StringConstraints(max_length=500), STORABLE] = ""

    @model_validator(mode="after")
    def _fits_its_metric(self) -> Criterion:
        if (self.metric is Metric.OUTCOME_PROBABILITY) != (self.outcome is not None):
            raise ValueError("outcome is required by metric outcome_probability and taken by no other metric")
        if self.metric in SHARES and self.target > 1:
            raise ValueError(f"{self.metric.value} runs from 0 to 1, so a target of {self.target:g} could never be measured")
        return self


FailureKind = Literal["failed", "cancelled"]
"""What can count against a failure budget: a primary job that failed, or one that was cancelled (aborted).
A fallback to the classical simulator is neither: it is a fallback."""


def _failed_only() -> list[FailureKind]:
    return ["failed"]


class FailureBudget(Strict):
    """What may fail within the window before new paid submissions are denied (rule PR-008): a number of
    jobs, a share of the jobs that ended, spend on failed runs; each limit is used up when reached."""

    max_failed_jobs: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    max_failed_share: Annotated[float, Field(gt=0, le=1)] | None = None
    share_after_jobs: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=10, description="How many primary jobs must have ended before the share limit applies."
    )
    max_failed_spend: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)] | None = None
    counts: list[FailureKind] = Field(default_factory=_failed_only, min_length=1, max_length=2)

    @model_validator(mode="after")
    def _some_limit(self) -> FailureBudget:
        if self.max_failed_jobs is None and self.max_failed_share is None and self.max_failed_spend is None:
            raise ValueError("a failure budget names at least one of maxFailedJobs, maxFailedShare, maxFailedSpend")
        if len(set(self.counts)) != len(self.counts):
            raise ValueError("counts names each kind of failure once")
        return self


class PilotTerms(Strict):
    """What a sandbox is approved to find out, and how much failure it may afford doing so."""

    objective: Annotated[str, StringConstraints(min_length=1, max_length=2000), STORABLE]
    criteria: list[Criterion] = Field(min_length=1, max_length=20)
    failure_budget: FailureBudget

    @model_validator(mode="after")
    def _criteria_named_once(self) -> PilotTerms:
        names = [criterion.name for criterion in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("each criterion needs a name of its own")
        return self


class FailureRecord(Strict):
    """A sandbox's primary jobs that ended, by how, and the spend on those that failed or were cancelled:
    counted under the sandbox's row lock as each job ends (govern.dispatch.costs.settle)."""

    ended: int = 0
    failed: int = 0
    cancelled: int = 0
    fallen_back: int = 0
    failed_spend: Decimal = Decimal("0")
    cancelled_spend: Decimal = Decimal("0")
