"""The decision: what the engine concluded about one submission, as a typed, immutable value.

A decision is evidence, so it carries everything an auditor needs to tie it back to the inputs:
decision id, bundle revision, input hash, engine and every rule id that fired.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ENGINE_FAILURE_RULE = "GOV-ENGINE"
"""Rule id recorded when the engine could not produce a trustworthy result (fail closed)."""


class Outcome(str, enum.Enum):
    ALLOWED = "allowed"
    WARNED = "warned"
    DENIED = "denied"


class Finding(BaseModel):
    """One rule that fired: a deny, a warn, or a deny turned into a recorded `waived` entry."""

    model_config = ConfigDict(frozen=True, extra="allow")

    rule: str
    message: str
    area: str = "engine"
    severity: str = "high"
    remediation: str = ""
    waivable: bool = False
    resource: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    waiver: dict[str, Any] | None = None


class PolicyResult(BaseModel):
    """The shape the bundle's entrypoint must return; anything else is a malformed result."""

    model_config = ConfigDict(frozen=True, extra="allow")

    allow: bool
    deny: list[Finding]
    warn: list[Finding] = Field(default_factory=list)
    waived: list[Finding] = Field(default_factory=list)
    estimate: dict[str, Any] = Field(default_factory=dict)


class Decision(BaseModel):
    """An engine's verdict on one policy input, with the facts that make it reproducible."""

    model_config = ConfigDict(frozen=True)

    decision_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    allow: bool
    deny: tuple[Finding, ...] = ()
    warn: tuple[Finding, ...] = ()
    waived: tuple[Finding, ...] = ()
    estimate: dict[str, Any] = Field(default_factory=dict)
    bundle_revision: str
    input_hash: str
    engine: str
    evaluated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    evaluation_ms: float = 0.0
    provenance: dict[str, Any] | None = Field(
        default=None, description="A policy server's own account of the decision: its decision id and bundle revision."
    )

    @property
    def outcome(self) -> Outcome:
        if not self.allow:
            return Outcome.DENIED
        return Outcome.WARNED if self.warn else Outcome.ALLOWED

    @property
    def rule_ids(self) -> list[str]:
        """Every rule that fired, in a stable order: denies, then warns, then waived."""
        return [f.rule for f in (*self.deny, *self.warn, *self.waived)]

    @classmethod
    def from_result(cls, result: PolicyResult, **facts: Any) -> Decision:
        allow = result.allow and not result.deny
        return cls(
            allow=allow,
            deny=tuple(result.deny),
            warn=tuple(result.warn),
            waived=tuple(result.waived),
            estimate=result.estimate,
            **facts,
        )

    @classmethod
    def failed_closed(cls, reason: str, **facts: Any) -> Decision:
        """A deny that stands in for a result the engine could not give."""
        finding = Finding(
            rule=ENGINE_FAILURE_RULE,
            message=f"policy evaluation failed, so the submission is denied: {reason}",
            remediation="Fix the policy engine or bundle and re-run the check; nothing was dispatched.",
        )
        return cls(allow=False, deny=(finding,), **facts)


class Authorization(BaseModel):
    """The authorization policy's answer for one request; a failure to answer is a deny with a reason."""

    model_config = ConfigDict(frozen=True)

    allow: bool
    reason: str
