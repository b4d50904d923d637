"""A report that has every kind of result (denied, warned, waived, allowed, input error), for the format tests."""

from __future__ import annotations

from datetime import UTC, datetime

from govern.check.report import CheckReport, CheckResult
from govern.errors import InputError, Problem
from govern.policy.decision import Decision, Finding

EVALUATED_AT = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)

DENIED = "examples/denied/restricted-to-ibm.yaml"
WARNED = "examples/warned/near-budget.yaml"
WAIVED = "examples/allowed/waived-region.yaml"
ALLOWED = "examples/allowed/bell.yaml"
BROKEN = "examples/invalid/bad-shots.yaml"


def decision(*, deny=(), warn=(), waived=(), decision_id="0f6c2d9e-1b7a-4c52-9a51-3f1e2d4c5b6a") -> Decision:
    return Decision(
        decision_id=decision_id,
        allow=not deny,
        deny=tuple(deny),
        warn=tuple(warn),
        waived=tuple(waived),
        bundle_revision="3f9a0c1b2d4e5f60718293a4b5c6d7e8f9012345",
        input_hash="sha256:" + "ab" * 32,
        engine="embedded",
        evaluated_at=EVALUATED_AT,
        evaluation_ms=12.5,
        estimate={"cost": 12.5, "currency": "USD"},
    )


DC_001 = Finding(
    rule="DC-001",
    area="data_classification",
    severity="critical",
    message="dataset chem/h2-pes is classified restricted and may only run on a local simulator or on-prem backend; "
    "run it on aer_simulator",
    remediation="Run on aer_simulator or an on-prem device, or reclassify the dataset.",
    resource="spec.datasets[0]",
    evidence={"dataset": "chem/h2-pes", "device": "ibm_kyiv"},
)
DC_001_FALLBACK = DC_001.model_copy(update={"message": "dataset chem/h2-pes is restricted; the fallback is external"})
SEC_004 = Finding(
    rule="SEC-004",
    area="security",
    severity="high",
    message="credentials.token is written inline, not a reference",
    remediation="Use env:VAR or vault:path.",
    resource="spec.credentials.token",
)
COST_002 = Finding(
    rule="COST-002",
    area="cost",
    severity="medium",
    message="estimated cost 480.00 USD uses 96% of the sandbox budget: 500.00 USD, line 2",
    remediation="Lower the shots,\nor ask for a larger budget.",
    resource="spec.shots",
)
REG_003 = Finding(
    rule="REG-003",
    area="regions",
    severity="high",
    message="backend region us-east is outside the EU",
    remediation="Use an EU region.",
    waivable=True,
    resource="spec.backend.region",
    waiver={"id": "WVR-17", "approver": "alice@example.org", "reason": "pilot, synthetic data", "expiresNs": 1},
)

LOCATIONS = {"": (1, 1), "spec": (5, 1), "spec.datasets": (12, 3), "spec.datasets[0]": (13, 5), "spec.shots": (9, 10)}


CATALOGUE = {
    "DC-001": {
        "area": "data_classification", "kind": "deny", "severity": "critical",
        "title": "Restricted data stays on local or on-prem backends",
        "description": "A dataset classified restricted may only be used on a local_simulator or onprem backend.",
        "remediation": "Run on aer_simulator or an on-prem device, or reclassify the dataset.", "waivable": False,
    },
    "SEC-004": {
        "area": "security", "kind": "deny", "severity": "high", "title": "Credentials are references",
        "description": "Credentials are env: or vault: references, never the secret itself.",
        "remediation": "Use env:VAR or vault:path.", "waivable": False,
    },
    "COST-002": {
        "area": "cost", "kind": "warn", "severity": "medium", "title": "Run uses most of the sandbox budget",
        "description": "Warns when the estimated cost uses over 90% of the sandbox's remaining budget.",
        "remediation": "Lower the shots,\nor ask for a larger budget.", "waivable": True,
    },
    "REG-003": {
        "area": "regions", "kind": "deny", "severity": "high", "title": "EU runs stay in EU regions",
        "description": "An EU team's run goes to a backend region inside the EU.",
        "remediation": "Use an EU region.", "waivable": True,
    },
}
"""The rule catalogue of the findings above, as a bundle's METADATA gives it."""


def make_report(fail_on_warn: bool = False, rules: dict | None = None) -> CheckReport:
    return CheckReport(
        results=(
            CheckResult(
                source=DENIED,
                name="vqe-h2-sweep",
                decision=decision(deny=[DC_001, DC_001_FALLBACK, SEC_004]),
                locations=dict(LOCATIONS),
            ),
            CheckResult(
                source=WARNED, name="qaoa-maxcut", decision=decision(warn=[COST_002]), locations=dict(LOCATIONS)
            ),
            CheckResult(source=WAIVED, name="ghz-eu", decision=decision(waived=[REG_003]), locations={"": (1, 1)}),
            CheckResult(source=ALLOWED, name="bell", decision=decision()),
            CheckResult(
                source=BROKEN,
                error=InputError(
                    BROKEN,
                    [
                        Problem("must be a positive integer", field="spec.shots", line=9, column=10),
                        Problem("file has a second YAML document, only one Experiment is allowed", line=0),
                    ],
                ),
            ),
        ),
        fail_on_warn=fail_on_warn,
        rules=rules or {},
    )


def snapshot(report: CheckReport) -> list:
    """Everything a formatter could change, in comparable form (InputError has no value equality)."""
    return [
        (
            r.source,
            r.name,
            r.decision.model_dump() if r.decision else None,
            (r.error.source, r.error.problems) if r.error else None,
            dict(r.locations),
        )
        for r in report.results
    ]
