"""The machine-readable report: the counts at the top level (replayed, changed, allow_to_deny, deny_to_allow,
rules_added, rules_removed), then who is affected and the changed decisions, in a fixed key order."""

from __future__ import annotations

import pydantic_core

from govern.impact.analysis import ImpactReport


def render(report: ImpactReport) -> str:
    document = {**report.model_dump(mode="json"), "changed_listed": len(report.changed_decisions), "truncated": report.truncated}
    return pydantic_core.to_json(document, indent=2).decode() + "\n"
