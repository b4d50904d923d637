"""The embedded engine: decisions as evidence, and failing closed on every kind of trouble."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govern.policy.bundle import BundleError, load_bundle
from govern.decision import ENGINE_FAILURE_RULE
from govern.canonical import canonical_json
from govern.policy.engines import EngineError, UnavailableEngine
from govern.policy.engines.regocpp import EmbeddedEngine

GOOD_POLICY = """package govern
import rego.v1

deny contains {"rule": "T-001", "message": sprintf("dataset %s is restricted", [d.name])} if {
    some d in input.datasets
    d.classification == "restricted"
}

decision := {"allow": count(deny) == 0, "deny": deny, "warn": [], "waived": [], "estimate": {}}
"""


def make_bundle(root: Path, policy: str = GOOD_POLICY, tests: str | None = None, revision: str = "t1") -> Path:
    (root / "govern").mkdir(parents=True, exist_ok=True)
    (root / ".manifest").write_text(json.dumps({"revision": revision, "roots": ["govern"]}))
    (root / "govern" / "policy.rego").write_text(policy)
    (root / "govern" / "catalogue").mkdir(exist_ok=True)
    (root / "govern" / "catalogue" / "data.json").write_text(json.dumps({"T-001": {"area": "test", "severity": "high"}}))
    if tests is not None:
        (root / "govern" / "policy_test.rego").write_text(tests)
    return root


def test_decision_carries_its_evidence(tmp_path):
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path)))
    decision = engine.evaluate({"datasets": [{"name": "cohorts", "classification": "restricted"}]})
    assert decision.allow is False
    assert decision.rule_ids == ["T-001"]
    assert decision.deny[0].message == "dataset cohorts is restricted"
    assert decision.bundle_revision.startswith("sha256:") and len(decision.bundle_revision) == 71
    assert decision.input_hash.startswith("sha256:")
    assert decision.engine == "embedded"
    assert decision.decision_id and decision.evaluation_ms > 0


def test_same_input_same_hash_and_revision_different_decision_ids(tmp_path):
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path)))
    first = engine.evaluate({"datasets": [], "b": 1, "a": 2})
    second = engine.evaluate({"a": 2, "datasets": [], "b": 1})
    assert first.input_hash == second.input_hash
    assert first.decision_id != second.decision_id
    assert first.allow and second.allow


def test_revision_follows_content(tmp_path):
    first = load_bundle(make_bundle(tmp_path / "a")).revision
    second = load_bundle(make_bundle(tmp_path / "b", GOOD_POLICY.replace("restricted", "secret"))).revision
    assert first != second
    assert load_bundle(make_bundle(tmp_path / "c")).revision == first


def test_quotes_backslashes_and_newlines_in_input_round_trip(tmp_path):
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path)))
    name = 'co"horts\\2026\nq3 \u00e9'
    decision = engine.evaluate({"datasets": [{"name": name, "classification": "restricted"}]})
    assert decision.deny[0].rule == "T-001"
    assert decision.deny[0].message == f"dataset {name} is restricted"


def test_builtin_error_denies_instead_of_failing_open(tmp_path):
    """rego-cpp would make the deny undefined (an allow); strict built-in errors turn it into a deny."""
    policy = GOOD_POLICY.replace(
        'd.classification == "restricted"', 'd.classification == "restricted"\n    time.parse_rfc3339_ns(d.since) > 0'
    )
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path, policy)))
    decision = engine.evaluate({"datasets": [{"name": "x", "classification": "restricted", "since": "2026-01-01T00:00:00Z"}]})
    assert decision.allow is False
    assert decision.rule_ids == [ENGINE_FAILURE_RULE]
    assert "evaluation error" in decision.deny[0].message


def test_bundle_calling_a_missing_builtin_is_refused(tmp_path):
    policy = GOOD_POLICY.replace('d.classification == "restricted"', 'net.cidr_contains("10.0.0.0/8", d.ip)')
    with pytest.raises(EngineError, match=r"policy.rego:\d+: error: calls net.cidr_contains\(\)"):
        EmbeddedEngine(load_bundle(make_bundle(tmp_path, policy)))


def test_bundle_that_does_not_compile_is_refused_with_its_position(tmp_path):
    with pytest.raises(EngineError, match=r"govern/policy.rego:\d+:\d+"):
        EmbeddedEngine(load_bundle(make_bundle(tmp_path, GOOD_POLICY + "\nbroken := 1 +\n")))


def test_malformed_result_denies(tmp_path):
    policy = "package govern\nimport rego.v1\n\ndecision := {\"allow\": true}\n"
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path, policy)))
    decision = engine.evaluate({})
    assert decision.allow is False
    assert "malformed result" in decision.deny[0].message


def test_undefined_decision_denies(tmp_path):
    policy = "package govern\nimport rego.v1\n\ndecision := {\"allow\": true, \"deny\": []} if input.never\n"
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path, policy)))
    decision = engine.evaluate({})
    assert decision.allow is False
    assert "undefined" in decision.deny[0].message


def test_allow_true_with_denies_is_still_a_deny(tmp_path):
    policy = GOOD_POLICY.replace('"allow": count(deny) == 0', '"allow": true')
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path, policy)))
    assert engine.evaluate({"datasets": [{"name": "x", "classification": "restricted"}]}).allow is False


def test_timeout_denies(tmp_path):
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path)), timeout_s=1e-9)
    decision = engine.evaluate({"datasets": [{"name": str(i), "classification": "public"} for i in range(2000)]})
    assert decision.allow is False
    assert "did not finish" in decision.deny[0].message


def test_unserialisable_input_denies(tmp_path):
    engine = EmbeddedEngine(load_bundle(make_bundle(tmp_path)))
    decision = engine.evaluate({"datasets": [], "bad": float("nan")})
    assert decision.allow is False and decision.rule_ids == [ENGINE_FAILURE_RULE]


def test_missing_bundle_is_an_error_and_the_stand_in_engine_denies(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no .manifest"):
        load_bundle(tmp_path / "empty")
    decision = UnavailableEngine("policy bundle not found").evaluate({"anything": 1})
    assert decision.allow is False and "policy bundle not found" in decision.deny[0].message


def test_canonical_json_is_order_independent_and_keeps_big_integers():
    assert canonical_json({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'
    assert canonical_json({"now_ns": 1795000000000000000}) == b'{"now_ns":1795000000000000000}'


def test_both_input_conversions_give_the_same_result(engine, example_inputs):
    """Plain inputs take regopy's faster Input conversion, escaped ones the JSON term: same results."""
    for path, policy_input in example_inputs:
        canonical = canonical_json(policy_input)
        assert engine.query_here(canonical, policy_input) == engine.query_here(canonical), path


def test_authorization_answers_and_fails_closed(engine, tmp_path):
    ask = {"token": {"id": "t1", "role": "submitter", "team": "materials-rnd"}, "action": "check", "resource": {"team": "materials-rnd"}}
    assert engine.authorize(ask).allow
    other_team = dict(ask, resource={"team": "quantum-finance"})
    answer = engine.authorize(other_team)
    assert not answer.allow and "own team" in answer.reason
    without_authz = EmbeddedEngine(load_bundle(make_bundle(tmp_path)))
    answer = without_authz.authorize(ask)
    assert not answer.allow and "no govern/authz/decision entrypoint" in answer.reason
    assert not UnavailableEngine("no bundle").authorize(ask).allow
