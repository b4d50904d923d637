"""govern's custom OpenLineage facets as openlineage-python classes, and the JSON Schemas that define them.

Field names are camelCase because `Serde.to_json` emits attrs attribute names as they are; the schemas
in `lineage/` say what the JSON must look like. Each class names its own versioned, immutable schema URL,
so a consumer can always find the exact definition an event was written against.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import attr
from openlineage.client.facet_v2 import DatasetFacet, RunFacet

SCHEMA_ROOT_URL = "https://govern.dev/spec/facets/"
SCHEMA_BASE_URL = f"{SCHEMA_ROOT_URL}1-0-0/"
"""Where the 1-0-0 schemas live; a changed facet gets a new version, never an edit in place."""


def schema_url(class_name: str, version: str = "1-0-0") -> str:
    """The `_schemaURL` of a facet: its schema file plus the JSON Pointer to its definition."""
    return f"{SCHEMA_ROOT_URL}{version}/{class_name}.json#/$defs/{class_name}"


@attr.define
class AppliedWaiver:
    """A deny that an approved waiver turned into a recorded entry."""

    rule: str
    waiverId: str


@attr.define
class GovernPolicyDecisionRunFacet(RunFacet):
    """The policy decision on the submission, with what it takes to reproduce it."""

    decisionId: str
    allow: bool
    outcome: str
    ruleIds: list[str]
    """Rules that denied."""
    warnRuleIds: list[str]
    bundleRevision: str
    inputHash: str
    engine: str
    waivers: list[AppliedWaiver]
    evaluatedAt: str
    """RFC 3339 with an offset."""

    facet_key: ClassVar[str] = "govern_policyDecision"

    @staticmethod
    def _get_schema() -> str:
        return schema_url("GovernPolicyDecisionRunFacet")


@attr.define
class GovernDataClassificationDatasetFacet(DatasetFacet):
    """How sensitive an input dataset is and where it must stay."""

    level: str
    """public, internal, confidential or restricted."""
    containsPII: bool
    pseudonymized: bool
    residency: str | None = None

    facet_key: ClassVar[str] = "govern_dataClassification"

    @staticmethod
    def _get_schema() -> str:
        return schema_url("GovernDataClassificationDatasetFacet")


@attr.define
class Circuit:
    """The quantum job's circuit as the policies profiled it, before transpilation."""

    format: str
    qubits: int
    clbits: int
    size: int
    depth: int
    twoQubitDepth: int
    nonLocalGates: int
    ops: dict[str, int]
    sha256: str


@attr.define
class GovernQuantumJobRunFacet(RunFacet):
    """What runs where: backend, shots and circuit; the dispatcher adds transpilation facts later."""

    vendor: str
    device: str
    shots: int
    circuit: Circuit
    transpiled: dict[str, Any] | None = None
    seedTranspiler: int | None = None
    seedSimulator: int | None = None
    calibrationSnapshotId: str | None = None

    facet_key: ClassVar[str] = "govern_quantumJob"

    @staticmethod
    def _get_schema() -> str:
        return schema_url("GovernQuantumJobRunFacet")


@attr.define
class FailureLimit:
    """One limit of a pilot's failure budget: maxFailedJobs, maxFailedShare or maxFailedSpend."""

    limit: str
    used: float
    allowed: float


@attr.define
class PilotFailureBudget:
    state: str
    """ok, warning (80% of a limit used) or spent (PR-008 denies new paid submissions)."""
    limits: list[FailureLimit]


@attr.define
class PilotCriterion:
    name: str
    metric: str
    direction: str
    target: float
    value: float | None = None
    met: bool | None = None


@attr.define
class PilotState:
    """Where a pilot stood when an event about one of its runs was written."""

    id: str
    failureBudget: PilotFailureBudget
    criteria: list[PilotCriterion]


@attr.define
class GovernProcurementRunFacet(RunFacet):
    """Who pays: the vendor, the sandbox billed, the estimate at submission and the actual cost once known,
    and the state of the sandbox's pilot (1-1-0 added `pilot`)."""

    vendor: str
    estimatedCost: float
    currency: str
    sandbox: str | None = None
    actualCost: float | None = None
    pilot: PilotState | None = None

    facet_key: ClassVar[str] = "govern_procurement"

    @staticmethod
    def _get_schema() -> str:
        return schema_url("GovernProcurementRunFacet", "1-1-0")


def facet_schema_dir() -> Path:
    """The schemas shipped in the wheel, or the source checkout's `lineage/` in a development install."""
    packaged = Path(str(files("govern"))) / "_packaged" / "lineage"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "lineage"


def facet_schemas() -> dict[str, dict[str, Any]]:
    """Every facet schema by its `$id`, every version of it (a version's folder holds the facets it changed),
    to register with a validator or serve to consumers."""
    schemas = (json.loads(path.read_text(encoding="utf-8")) for path in sorted(facet_schema_dir().glob("**/*.json")))
    return {schema["$id"]: schema for schema in schemas}
