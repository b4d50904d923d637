"""The documents users write: the Experiment manifest and the Context of live procurement facts.

Both are Kubernetes-style (`apiVersion`, `kind`, `metadata`, `spec`) and forbid unknown fields, so a
typo fails loudly instead of silently skipping a gate.
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from govern.lineage.limits import NAME_MAX_BYTES, NAMESPACE_MAX_BYTES, storable_name

API_VERSION = "govern/v1"

DnsLabel = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", max_length=63),
    Field(description="Lower-case DNS label: letters, digits and '-', at most 63 characters."),
]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]
RecordId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
"""A record's id as govern makes them: a lower-case UUID."""

EXACT_INTEGERS = (-(2**63), 2**64 - 1)
"""The integers the policy engine holds exactly (64-bit signed and unsigned); beyond them it rounds to a float,
so a bigger number could not be checked exactly and is an input error instead."""


def exact_number(value: Any) -> Any:
    """A number the policy engine represents exactly, or a ValueError that says why not."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not EXACT_INTEGERS[0] <= value <= EXACT_INTEGERS[1]:
        raise ValueError(
            f"{value} is outside the integers the policy engine holds exactly "
            f"({EXACT_INTEGERS[0]} to {EXACT_INTEGERS[1]})"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    return value


def exact_numbers(value: Any) -> Any:
    """Every number inside a free-form value (hyperparameters) is one the policy engine represents exactly."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            pending.extend((f"{path}.{key}" if path else str(key), child) for key, child in item.items())
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
        else:
            try:
                exact_number(item)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
    return value


SEED_LIMIT = 2**31 - 1
"""Seeds run from 1 to SEED_LIMIT - 1: they are stored as 32-bit integers, and some simulators read 0 as
"unseeded"."""


def valid_seed(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """A `seed` hyperparameter is the one the job's transpiler and simulator run with, so it must be one they take."""
    if "seed" in hyperparameters:
        seed = hyperparameters["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or not 1 <= seed < SEED_LIMIT:
            raise ValueError(f"seed: {seed!r} is not an integer from 1 to {SEED_LIMIT - 1}")
    return hyperparameters


ExactPositiveInt = Annotated[PositiveInt, AfterValidator(exact_number)]

MAX_SHOTS = 2**31 - 1
"""The most shots a manifest may ask for: what the service's jobs.shots column (INTEGER) stores. Checked
in the model, so the CLI (exit 2) and the service (422) refuse more before any database sees it."""


class Strict(BaseModel):
    """Unknown fields are errors; fields are camelCase in documents and snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, allow_inf_nan=False
    )


class Classification(str, enum.Enum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class Metadata(Strict):
    name: DnsLabel
    team: DnsLabel
    owner: EmailStr
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class CircuitRef(Strict):
    """Where the circuit is: a file relative to the manifest, or OpenQASM inline."""

    path: Identifier | None = None
    qasm: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CircuitRef:
        if (self.path is None) == (self.qasm is None):
            raise ValueError("give exactly one of 'path' (a file next to the manifest) or 'qasm' (inline OpenQASM)")
        return self


# Where the experiment runs (`spec.backend`), named apart from govern.backends.base.Backend; no docstring, since
# pydantic would add it to the JSON Schema as a description, and the schema keeps the document's title for it.
class BackendTarget(Strict):
    model_config = ConfigDict(title="Backend")

    vendor: Identifier
    device: Identifier
    region: Identifier | None = None
    endpoint: str | None = None


class Dataset(Strict):
    """An input dataset; its namespace and name become lineage, so they are held to the lineage store's limits."""

    namespace: Annotated[Identifier, AfterValidator(storable_name(NAMESPACE_MAX_BYTES))]
    name: Annotated[Identifier, AfterValidator(storable_name(NAME_MAX_BYTES))]
    classification: Classification
    contains_pii: bool = Field(default=False, alias="containsPII")
    pseudonymized: bool = False
    region: Identifier | None = None


class QueueThreshold(Strict):
    """Fall back when the device's queue is longer than this many minutes (written as in the manifest)."""

    queue_minutes_over: ExactPositiveInt = Field(alias="queue_minutes_over")


class PendingJobsThreshold(Strict):
    """Fall back when more than this many jobs wait in the device's queue (written as in the manifest)."""

    pending_jobs_over: ExactPositiveInt = Field(alias="pending_jobs_over")


FallbackTrigger = Literal["unavailable", "error"] | QueueThreshold | PendingJobsThreshold


def _when_unavailable() -> list[FallbackTrigger]:
    return ["unavailable"]


class Fallback(Strict):
    device: Identifier
    on: list[FallbackTrigger] = Field(default_factory=_when_unavailable)


class Baseline(Strict):
    """The classical reference a pilot's "improvement over classical" criteria compare with: the same circuit
    on a local simulator (queued with the run, free), or the recorded result of an earlier submission."""

    simulator: Identifier | None = Field(default=None, description="A catalogued local simulator the same circuit also runs on, such as aer_simulator.")
    recorded: RecordId | None = Field(default=None, description="The id of an earlier submission of the team's whose simulator result is the baseline.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Baseline:
        if (self.simulator is None) == (self.recorded is None):
            raise ValueError("give exactly one of 'simulator' (a local simulator device) or 'recorded' (an earlier submission's id)")
        return self


class SourceCode(Strict):
    type: Literal["git"] = "git"
    url: str
    path: str | None = None
    version: str | None = None


class ExperimentSpec(Strict):
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    circuit: CircuitRef
    backend: BackendTarget
    shots: Annotated[int, Field(ge=1, le=MAX_SHOTS)]
    sandbox: Identifier | None = None
    datasets: list[Dataset] = Field(default_factory=list)
    hyperparameters: Annotated[dict[str, Any], AfterValidator(exact_numbers), AfterValidator(valid_seed)] = Field(
        default_factory=dict,
        description="Free-form; a `seed` (1 to 2**31 - 2) seeds the job's transpiler and simulator, so reruns repeat.",
    )
    fallback: Fallback | None = None
    baseline: Baseline | None = None
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description="References only: 'env:VAR' or 'vault:path'. A secret value here is denied by policy.",
    )
    source: SourceCode | None = None

    @property
    def seed(self) -> int | None:
        """The seed the experiment asks for, if any."""
        seed = self.hyperparameters.get("seed")
        return seed if isinstance(seed, int) else None


class Experiment(Strict):
    """One experiment submission, as written by its team."""

    api_version: Literal["govern/v1"] = Field(alias="apiVersion")
    kind: Literal["Experiment"]
    metadata: Metadata
    spec: ExperimentSpec


PRICE_BOUNDS = {"perTask": 1e9, "perShot": 1e6, "ratePerSecond": 1e6, "baseSeconds": 1e7, "secondsPerShot": 1e4}
"""The most each price term may be: far above any real price list, low enough that an estimate stays finite."""


class PriceModel(Strict):
    """What a vendor charges, in the bundle's pricing currency: one formula covers per task, per shot and
    per second (perTask + shots × perShot + (baseSeconds + shots × secondsPerShot) × ratePerSecond).

    Each term is finite, non-negative and bounded (PRICE_BOUNDS), so no estimate is negative or infinite."""

    model: Identifier = "negotiated"
    per_task: Annotated[float, Field(ge=0, le=PRICE_BOUNDS["perTask"])] = 0.0
    per_shot: Annotated[float, Field(ge=0, le=PRICE_BOUNDS["perShot"])] = 0.0
    rate_per_second: Annotated[float, Field(ge=0, le=PRICE_BOUNDS["ratePerSecond"])] = 0.0
    base_seconds: Annotated[float, Field(ge=0, le=PRICE_BOUNDS["baseSeconds"])] = 0.0
    seconds_per_shot: Annotated[float, Field(ge=0, le=PRICE_BOUNDS["secondsPerShot"])] = 0.0


class Vendor(Strict):
    name: Identifier
    approved: bool = True
    data_processing_agreement: bool = False
    regions: list[str] = Field(default_factory=list)
    price_model: PriceModel | None = Field(
        default=None, description="Prices on record for this vendor; they replace the bundle's list prices for its devices."
    )


class SandboxStatus(str, enum.Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    EXHAUSTED = "exhausted"


class PilotFailureBudget(Strict):
    """A pilot's failure budget as the policies read it (govern.pilots.terms.FailureBudget), money as a number."""

    max_failed_jobs: NonNegativeInt | None = None
    max_failed_share: NonNegativeFloat | None = None
    share_after_jobs: NonNegativeInt = 10
    max_failed_spend: NonNegativeFloat | None = None
    counts: list[Literal["failed", "cancelled"]] = Field(default=["failed"], max_length=2)  # pydantic copies a mutable default


class PilotFailures(Strict):
    """The sandbox's primary jobs that ended, by how, and the spend on failed and cancelled runs (govern.pilots.failures)."""

    ended: NonNegativeInt = 0
    failed: NonNegativeInt = 0
    cancelled: NonNegativeInt = 0
    fallen_back: NonNegativeInt = 0
    failed_spend: NonNegativeFloat = 0.0
    cancelled_spend: NonNegativeFloat = 0.0


class SandboxPilot(Strict):
    """What rule PR-008 reads of a sandbox's pilot: its failure budget and its failure record so far."""

    id: Identifier
    failure_budget: PilotFailureBudget
    failures: PilotFailures = Field(default_factory=PilotFailures)


class Sandbox(Strict):
    id: Identifier
    team: DnsLabel
    vendor: Identifier
    devices: list[str] = Field(default_factory=list)
    status: SandboxStatus
    requested_by: str | None = None
    approved_by: str | None = None
    start: AwareDatetime
    end: AwareDatetime
    budget: NonNegativeFloat
    spent: NonNegativeFloat = 0.0
    currency: str = "USD"
    allows_confidential: bool = False
    pilot: SandboxPilot | None = None


class WaiverScope(Strict):
    team: DnsLabel
    experiment: str = "*"
    sandbox: str | None = None


class WaiverStatus(str, enum.Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REVOKED = "revoked"


class Waiver(Strict):
    id: Identifier
    rule: Identifier
    scope: WaiverScope
    status: WaiverStatus = WaiverStatus.APPROVED
    requested_by: str | None = None
    approver: str
    reason: Annotated[str, StringConstraints(min_length=1)]
    expires: AwareDatetime


class ContextSpec(Strict):
    vendors: list[Vendor] = Field(default_factory=list)
    sandboxes: list[Sandbox] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> ContextSpec:
        for what, ids in (
            ("vendor name", [v.name for v in self.vendors]),
            ("sandbox id", [s.id for s in self.sandboxes]),
            ("waiver id", [w.id for w in self.waivers]),
        ):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"duplicate {what}: {', '.join(duplicates)}")
        return self


class ContextMetadata(Strict):
    name: str = "context"
    generated: AwareDatetime | None = None


class Context(Strict):
    """Live facts the policies need (sandboxes, spend, vendors, waivers); offline from a file, online from the service."""

    api_version: Literal["govern/v1"] = Field(alias="apiVersion")
    kind: Literal["Context"]
    metadata: ContextMetadata = Field(default_factory=ContextMetadata)
    spec: ContextSpec = Field(default_factory=ContextSpec)

    @classmethod
    def empty(cls) -> Context:
        return cls(api_version=API_VERSION, kind="Context")


def epoch_ns(moment: datetime) -> int:
    """Epoch nanoseconds: the form times reach the policies in (integers every engine compares alike)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
