"""What a client may send to write a row and what it is shown of one (never a secret, a hash or the row
itself). The records, the admission transaction, the API and the CLI all use these, so they sit beside the
tables, below all of them; the API's own request and response models are in govern.api.schemas."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, computed_field, model_validator
from pydantic.alias_generators import to_camel

from govern.db.tables import Role, utcnow
from govern.manifest.schema import DnsLabel, PriceModel
from govern.pilots.terms import FailureRecord, PilotTerms


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    team: DnsLabel
    name: str = "token"


class TokenPublic(BaseModel):
    """What anyone may see of a token: never its secret or hash."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    role: Role
    team: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class VendorUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    approved: bool = True
    data_processing_agreement: bool = False
    regions: list[str] = []
    price_model: PriceModel | None = None


class VendorPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, alias_generator=to_camel, populate_by_name=True)

    name: str
    approved: bool
    data_processing_agreement: bool
    regions: list[str]
    price_model: PriceModel | None = None
    price_model_problem: str | None = Field(
        default=None, description="Why the stored price model is not valid (decisions for this vendor are denied until it is corrected)."
    )


class SubmissionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    team: str
    name: str
    outcome: str
    decision_id: str
    sandbox: str | None
    estimated_cost: Decimal
    currency: str
    circuit_sha256: str
    run_id: str
    created_by: str
    created_at: datetime
    job_status: str | None = None


MIN_PILOT = timedelta(weeks=6)
MAX_PILOT = timedelta(weeks=12)


class SandboxRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    team: DnsLabel
    vendor: str
    devices: list[str] = Field(min_length=1)
    start: AwareDatetime
    end: AwareDatetime
    budget: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    allows_confidential: bool = False
    pilot: PilotTerms | None = Field(default=None, description="The pilot's objective, success criteria and failure budget.")

    @model_validator(mode="after")
    def _time_boxed(self) -> SandboxRequest:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_PILOT:
            raise ValueError(f"a sandbox window is at most 12 weeks (pilots are time-boxed); this one is {(self.end - self.start).days} days")
        if self.end - self.start < MIN_PILOT:
            raise ValueError(f"a sandbox window is at least 6 weeks (a pilot needs time to show results); this one is {(self.end - self.start).days} days")
        return self


class SandboxPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, alias_generator=to_camel, populate_by_name=True)

    id: str
    team: str
    vendor: str
    devices: list[str]
    status: str
    requested_by: str
    approved_by: str | None
    start: AwareDatetime
    end: AwareDatetime
    budget: Decimal
    spent: Decimal
    reserved: Decimal
    currency: str
    allows_confidential: bool
    created_at: AwareDatetime = Field(description="When it was requested.")
    decided_at: AwareDatetime | None = Field(default=None, description="When it was last approved, rejected or revoked.")
    pilot: PilotTerms | None = Field(default=None, description="The pilot terms as approved, with the sandbox or by a later change (its pilot amendments), if it has any.")
    failures: FailureRecord = Field(default_factory=FailureRecord, description="Its primary jobs that ended, by how.")

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form, which mypy does not model
    @property
    def lifecycle(self) -> str:
        """Where the sandbox stands now: requested, rejected, revoked, approved (not yet open), active,
        expired or exhausted. Derived from the record and the clock, never stored, so it cannot go stale."""
        if self.status != "approved":
            return self.status
        now = utcnow()
        if now >= self.end:
            return "expired"
        if self.spent + self.reserved >= self.budget:
            return "exhausted"
        return "active" if now >= self.start else "approved"


AmendmentReason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PilotAmendmentRequest(BaseModel):
    """A proposed change of a sandbox's pilot terms: the whole new terms, and why."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    terms: PilotTerms = Field(description="The terms as they would stand once approved (all of them, not a patch).")
    reason: AmendmentReason = Field(description="Why the terms should change, for the procurement record.")


class PilotAmendmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, alias_generator=to_camel, populate_by_name=True)

    id: str
    sandbox_id: str
    team: str = Field(description="The sandbox's team.")
    terms: PilotTerms
    replaces: PilotTerms | None = Field(description="The sandbox's terms when this was proposed (null: it had none).")
    reason: str
    status: Literal["pending", "approved", "rejected"]
    requested_by: str
    requested_at: AwareDatetime
    decided_by: str | None
    decided_at: AwareDatetime | None


class LedgerEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    submission_id: str
    kind: str
    amount: Decimal
    currency: str
    note: str
    created_at: AwareDatetime


class WaiverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    rule: Annotated[str, Field(pattern=r"^[A-Z]+-\d+$")]
    team: DnsLabel
    experiment: Annotated[str, Field(min_length=1, max_length=63)] = "*"  # the columns' bounds: longer is a 422, not a database error
    sandbox: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    reason: Annotated[str, Field(min_length=10, max_length=4000)]
    expires: AwareDatetime


class WaiverPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, alias_generator=to_camel, populate_by_name=True)

    id: str
    rule: str
    team: str
    experiment: str
    sandbox: str | None
    status: str
    requested_by: str
    approver: str | None
    reason: str
    expires: AwareDatetime


class JobPublic(BaseModel):
    """A job as the API shows it: no circuit, no credential references, no lease internals."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    submission_id: str
    kind: str
    parent_job_id: str | None
    baseline_job_id: str | None = Field(description="The job whose result this one is compared with as its classical baseline (spec.baseline).")
    run_id: str
    status: str
    vendor: str
    device: str
    shots: int
    seed_transpiler: int
    seed_simulator: int
    estimated_cost: Decimal
    currency: str
    vendor_job_id: str | None
    attempts: int
    cancel_requested: bool
    error: str | None
    reproduced: bool | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BaselinePublic(BaseModel):
    """The classical baseline a result is compared with (spec.baseline), and how close the two came."""

    kind: Literal["simulator", "recorded"] = Field(description="`simulator`: the submission's own baseline run; `recorded`: an earlier submission's run.")
    job_id: str
    run_id: str
    submission_id: str
    device: str
    status: str
    hellinger_fidelity: float | None = Field(
        description="qiskit.quantum_info.hellinger_fidelity of the two results' counts, 0 to 1; null until both have one.")


class ResultPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job_id: str
    submission_id: str
    device: str
    counts: dict[str, int]
    result_hash: str
    transpiled: dict[str, Any]
    calibration_snapshot_id: str | None
    usage_seconds: float | None
    actual_cost: Decimal
    currency: str
    created_at: datetime
    baseline: BaselinePublic | None = None


class PolicyRevisionPublic(BaseModel):
    """A kept bundle revision and when it decided: first and last started deciding in a server process."""

    model_config = ConfigDict(from_attributes=True)

    revision: str = Field(description="The digest of the files loaded, as every decision names it.")
    manifest_revision: str = Field(description="The `.manifest`'s own revision string.")
    first_active_at: datetime
    last_active_at: datetime
    active: bool = Field(default=False, description="Whether this server process decides with it now.")
