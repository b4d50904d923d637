"""The Rego bundle: its unit tests pass, every rule is tested both ways, and unsafe bundles are refused."""

from __future__ import annotations

import json
import re

import pytest

from govern.policy.bundle import load_bundle
from govern.policy.engines import EngineError
from govern.policy.engines.regocpp import new_interpreter
from govern.policy.check import check_bundle
from govern.policy.testing import discover_tests, run_tests
from tests.test_engine import GOOD_POLICY, make_bundle


def test_every_rego_test_passes(bundle):
    results = run_tests(bundle)
    assert len(results) >= 60
    failures = [f"{r.package}.{r.name}: {r.status} {r.detail}" for r in results if not r.passed]
    assert failures == []


def test_every_rule_has_allow_and_deny_tests(bundle):
    names = {name for _, name, _ in discover_tests(bundle)}
    for rule_id in bundle.catalogue:
        stem = "test_" + rule_id.lower().replace("-", "_")
        assert any(n.startswith(stem + "_deny") for n in names), f"{rule_id} has no deny test"
        assert any(n.startswith(stem + "_allow") for n in names), f"{rule_id} has no allow test"


def test_every_rule_the_policies_emit_is_catalogued(bundle):
    emitted = set()
    for module in bundle.policy_modules:
        emitted |= set(re.findall(r'"rule":\s*"([A-Z]+-\d+)"', module.source))
        emitted |= set(re.findall(r'finding\("([A-Z]+-\d+)"', module.source))
    assert emitted == set(bundle.catalogue)


def test_shipped_bundle_has_no_fatal_problems(bundle):
    assert [p for p in check_bundle(bundle, new_interpreter().is_builtin) if p.fatal] == []


def test_replacing_the_whole_input_in_a_test_is_refused(tmp_path):
    tests = "package govern.policy_test\nimport rego.v1\ntest_x if { data.govern.decision.allow with input as {} }\n"
    bundle = load_bundle(make_bundle(tmp_path, tests=tests))
    problems = [p for p in check_bundle(bundle, new_interpreter().is_builtin) if p.fatal]
    assert len(problems) == 1 and "with input as" in problems[0].message
    with pytest.raises(EngineError, match="refused"):
        run_tests(bundle)


def test_known_pitfalls_are_warnings(tmp_path):
    policy = GOOD_POLICY + '\nsince(d) := time.parse_rfc3339_ns(d.since)\n'
    problems = check_bundle(load_bundle(make_bundle(tmp_path, policy)), new_interpreter().is_builtin)
    assert [p.fatal for p in problems] == [False]
    assert "'Z'" in problems[0].message


def test_failing_rego_tests_are_reported(tmp_path, cli):
    tests = 'package govern.policy_test\nimport rego.v1\nimport data.govern\ntest_fails if { count(govern.deny) == 1 }\ntest_passes if { count(govern.deny) == 0 }\n'
    root = make_bundle(tmp_path, tests=tests)
    result = cli("policy", "test", "--bundle", root, "-v")
    assert result.exit_code == 1
    assert "FAIL" in result.output and "1 passed, 1 failed" in result.output


def test_policy_check_refuses_a_bundle_with_missing_builtins(tmp_path, cli):
    policy = GOOD_POLICY.replace('d.classification == "restricted"', 'json.match_schema(d, {})')
    result = cli("policy", "check", "--bundle", make_bundle(tmp_path, policy))
    assert result.exit_code == 1
    assert "json.match_schema" in result.output


def test_policy_list_shows_every_rule(cli, bundle):
    result = cli("policy", "list")
    assert result.exit_code == 0
    for rule_id in bundle.catalogue:
        assert rule_id in result.output
    assert json.loads(cli("policy", "list", "--json").output).keys() == bundle.catalogue.keys()
