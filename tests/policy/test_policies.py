"""The shipped Rego bundle: its tests pass, every rule is annotated and tested both ways, and it reads as Rego
authors write it."""

from __future__ import annotations

import json
import re

import pytest

from govern.policy.check import check_bundle
from govern.policy.testing import discover_tests, run_tests
from tests.policy.test_engine import make_bundle

AREAS = ("data_classification", "procurement", "security")


@pytest.mark.slow
def test_every_rego_test_passes(bundle):
    results = run_tests(bundle).results
    assert len(results) >= 80
    failures = [f"{r.package}.{r.name}: {r.status} {r.detail}" for r in results if not r.passed]
    assert failures == []


def test_every_rule_has_allow_and_deny_tests(bundle):
    names = {name for _, name, _ in discover_tests(bundle)}
    for rule_id in bundle.catalogue:
        stem = "test_" + rule_id.lower().replace("-", "_").replace(".", "_")
        assert any(n.startswith(stem + "_deny") for n in names), f"{rule_id} has no deny test"
        assert any(n.startswith(stem + "_allow") for n in names), f"{rule_id} has no allow test"


def test_every_area_rule_is_annotated_and_the_catalogue_is_complete(bundle):
    assert [str(p) for p in check_bundle(bundle)] == []
    areas = {entry["area"] for entry in bundle.catalogue.values()}
    assert set(AREAS) <= areas
    for rule_id, entry in bundle.catalogue.items():
        assert entry["title"] and entry["description"] and entry["remediation"], rule_id
        assert entry["severity"] in {"critical", "high", "medium", "low"}, rule_id


def test_the_examples_only_emit_catalogued_rules(engine, example_inputs, bundle):
    for path, policy_input in example_inputs:
        decision = engine.evaluate(policy_input)
        for finding in (*decision.deny, *decision.warn, *decision.waived):
            assert finding.rule in bundle.catalogue, (path, finding.rule)
            assert finding.severity == bundle.catalogue[finding.rule]["severity"]


def test_the_bundle_reads_as_rego_authors_write_it(bundle):
    for module in bundle.modules:
        for number, line in enumerate(module.source.splitlines(), 1):
            assert len(line) <= 120, f"{module.path}:{number} is {len(line)} characters"
        assert not re.search(r"\belse\s*:=\s*set\(\)", module.source), module.path
    for area in AREAS:
        source = next(m.source for m in bundle.policy_modules if m.package == f"govern.{area}")
        assert "deny contains finding if {" in source, area


def test_there_is_no_catalogue_data_document(bundle):
    assert not (bundle.root / "govern" / "catalogue").exists()


def test_failing_rego_tests_are_reported_with_their_prints(tmp_path, cli):
    tests = (
        "package govern.policy_test\n\nimport rego.v1\n\n"
        'test_fails if {\n\tdecision := data.govern.decision with input as {"datasets": []}\n'
        '\tprint("decision was", decision.allow)\n\tnot decision.allow\n}\n\n'
        'test_passes if data.govern.decision.allow with input as {"datasets": []}\n'
    )
    result = cli("policy", "test", "--bundle", make_bundle(tmp_path, tests=tests), "-v")
    assert result.exit_code == 1
    assert "FAIL" in result.output and "1 passed, 1 failed" in result.output
    assert "decision was true" in result.output


def test_policy_test_runs_only_what_the_pattern_matches(tmp_path, cli):
    tests = "package govern.policy_test\n\nimport rego.v1\n\ntest_one if true\n\ntest_two if false\n"
    result = cli("policy", "test", "--bundle", make_bundle(tmp_path, tests=tests), "-r", "test_one$")
    assert result.exit_code == 0 and "1 passed, 0 failed" in result.output


@pytest.mark.slow
def test_policy_test_reports_coverage(cli):
    result = cli("policy", "test", "--coverage")
    assert result.exit_code == 0
    assert "govern/security.rego" in result.output and "%" in result.output


def test_policy_list_shows_every_rule_from_the_annotations(cli, bundle):
    result = cli("policy", "list")
    assert result.exit_code == 0
    for rule_id in bundle.catalogue:
        assert rule_id in result.output
    listed = json.loads(cli("policy", "list", "--format", "json").output)
    assert listed == bundle.catalogue
    assert listed["SEC-001"]["waivable"] is False and listed["SEC-001"]["area"] == "security"
