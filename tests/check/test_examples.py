"""Every example states what the policies must decide about it (`govern.dev/expect`), and they do.

Together the examples cover allowed and denied cases in every policy area."""

from __future__ import annotations

import pytest

from govern.check.checker import Checker
from govern.manifest.documents import load_documents
from govern.submission import submission_from_document
from tests.conftest import EXAMPLES

MANIFESTS = sorted(p for p in EXAMPLES.rglob("*.yaml") if p.parent.name in {"allowed", "denied", "warned"})


def expectation(document) -> tuple[str, set[str], set[str]]:
    outcome, *rules = document.data["metadata"]["annotations"]["govern.dev/expect"].split()
    waived = {r.removeprefix("waived:") for r in rules if r.startswith("waived:")}
    return outcome, {r for r in rules if not r.startswith("waived:")}, waived


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_decision_matches_its_expectation(path, engine, example_context, examples_now):
    (document,) = load_documents(path, 1_000_000)
    outcome, rules, waived = expectation(document)
    decision = Checker(engine, example_context, now=examples_now).decide(submission_from_document(document, 1_000_000))
    assert decision.outcome.value == outcome, [f.message for f in decision.deny]
    fired = {f.rule for f in (decision.deny if outcome == "denied" else decision.warn)}
    assert fired == rules
    assert {f.rule for f in decision.waived} == waived
    for finding in decision.deny:
        assert finding.message and finding.remediation and finding.severity, finding


def test_examples_cover_every_area_both_ways(engine, example_context, examples_now):
    denied_areas, allowed = set(), 0
    for path in MANIFESTS:
        (document,) = load_documents(path, 1_000_000)
        decision = Checker(engine, example_context, now=examples_now).decide(submission_from_document(document, 1_000_000))
        denied_areas |= {f.area for f in decision.deny}
        allowed += decision.allow
    assert {"data_classification", "procurement", "security"} <= denied_areas
    assert allowed >= 3
