"""`govern policy check`: what the embedded engine would not evaluate faithfully is refused, with file:line."""

from __future__ import annotations

import pytest

from govern.policy.bundle import BundleError, load_bundle
from govern.policy.check import check_bundle
from govern.policy.engines import EngineError
from govern.policy.engines.embedded import RegorusEngine
from tests.policy.test_engine import GOOD_POLICY, RULE_ANNOTATION, make_bundle, with_condition


def problems_of(tmp_path, policy: str, tests: str | None = None) -> list[str]:
    return [str(p) for p in check_bundle(load_bundle(make_bundle(tmp_path, policy, tests))) if p.fatal]


def test_a_clean_bundle_has_no_problems(tmp_path):
    assert problems_of(tmp_path, GOOD_POLICY) == []


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ('http.send({"method": "get", "url": "https://example.com"}).status_code == 200', "reaches outside the input"),
        ('net.lookup_ip_addr("example.com") != set()', "reaches outside the input"),
        ("opa.runtime().version", "describes the engine"),
        ("time.now_ns() > 0", "input.now_ns"),
        ("rand.intn(\"x\", 10) > 1", "changes from run to run"),
        ('uuid.rfc4122("x") != ""', "changes from run to run"),
        ('strings.count(d.name, "aa") > 1', "overlapping"),
        ("rego.metadata.rule().title", "reads METADATA annotations itself"),
    ],
)
def test_builtins_that_reach_out_or_answer_wrong_are_refused_with_their_line(tmp_path, call, reason):
    name = call.split("(")[0]
    (problem,) = problems_of(tmp_path, with_condition(call))
    assert problem.startswith("govern/policy.rego:16: error: calls " + name + "()")
    assert reason in problem


@pytest.mark.parametrize("call", ['crypto.sha256(d.name) != ""', 'io.jwt.decode(d.name)[0] == {}', 'nosuch.function(1)'])
def test_builtins_the_engine_lacks_are_refused(tmp_path, call):
    (problem,) = problems_of(tmp_path, with_condition(call))
    assert "govern/policy.rego:16" in problem and "does not provide" in problem


def test_functions_the_bundle_defines_are_not_builtins(tmp_path):
    helpers = 'package govern.helpers\n\nimport rego.v1\n\nshout(s) := concat("", [s, "!"])\n'
    policy = with_condition('helpers.shout(d.name) != ""\n\tlocal(d) != ""\n\tdata.govern.helpers.shout("x") != ""')
    policy = policy.replace("import rego.v1\n", "import rego.v1\n\nimport data.govern.helpers\n") + "\nlocal(x) := x.name\n"
    root = make_bundle(tmp_path, policy)
    (root / "govern" / "helpers.rego").write_text(helpers)
    assert [str(p) for p in check_bundle(load_bundle(root)) if p.fatal] == []


def test_calls_in_tests_are_checked_too(tmp_path):
    tests = "package govern.policy_test\n\nimport rego.v1\n\ntest_now if time.now_ns() > 0\n"
    (problem,) = problems_of(tmp_path, GOOD_POLICY, tests)
    assert problem.startswith("govern/policy_test.rego:5: error: calls time.now_ns()")


def test_a_multi_value_rule_computing_its_value_in_the_head_is_refused(tmp_path):
    """regorus turns `s contains d.region` empty (or fails) once one dataset has no region: fail open."""
    helper = "\nregions contains d.region if {\n\tsome d in input.datasets\n}\n\nnames[d.name] := true if {\n\tsome d in input.datasets\n}\n"
    problems = problems_of(tmp_path, GOOD_POLICY + helper)
    assert [p.split(": error: ")[0] for p in problems] == ["govern/policy.rego:21", "govern/policy.rego:25"]
    assert all("bind the value in the body" in p for p in problems)


def test_a_deny_rule_without_metadata_is_refused(tmp_path):
    (problem,) = problems_of(tmp_path, GOOD_POLICY.replace(RULE_ANNOTATION, ""))
    assert problem.startswith("govern/policy.rego:5: error:") and "no METADATA annotation" in problem


def test_a_rule_emitting_an_id_other_than_its_annotation_is_refused(tmp_path):
    (problem,) = problems_of(tmp_path, GOOD_POLICY.replace('{"rule": "T-001"', '{"rule": "T-002"'))
    assert "emits rule id T-002, but its METADATA annotation declares T-001" in problem


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("#   severity: high", "#   severity: severe"), "custom.severity must be one of"),
        (("#   waivable: true", "#   waivable: maybe"), "custom.waivable must be true or false"),
        (("#   id: T-001\n", ""), "needs custom.id"),
        (("# title: Restricted datasets\n", ""), "needs a title"),
        (("#   severity: high", "#   severity: [high"), "METADATA is not valid YAML"),
    ],
)
def test_bad_annotations_are_refused(tmp_path, change, expected):
    problems = problems_of(tmp_path, GOOD_POLICY.replace(*change))
    assert any(expected in p for p in problems), problems


def test_unknown_metadata_attributes_are_a_warning(tmp_path):
    policy = GOOD_POLICY.replace("# title: Restricted datasets\n", "# title: Restricted datasets\n# category: data\n")
    problems = check_bundle(load_bundle(make_bundle(tmp_path, policy)))
    assert [(p.fatal, "put them under 'custom'" in p.message) for p in problems] == [(False, True)]


def test_a_bundle_with_its_own_catalogue_document_is_refused(tmp_path):
    root = make_bundle(tmp_path)
    (root / "govern" / "catalogue").mkdir()
    (root / "govern" / "catalogue" / "data.json").write_text('{"T-001": {"severity": "low"}}')
    with pytest.raises(BundleError, match="derived from the rules' METADATA"):
        RegorusEngine(load_bundle(root))


def test_the_engine_refuses_what_the_check_refuses(tmp_path):
    with pytest.raises(EngineError, match=r"policy.rego:16: error: calls http.send\(\)"):
        RegorusEngine(load_bundle(make_bundle(tmp_path, with_condition('http.send({}).status_code == 200'))))


def test_policy_check_cli_names_file_and_line_and_exits_1(tmp_path, cli):
    result = cli("policy", "check", "--bundle", make_bundle(tmp_path, with_condition("time.now_ns() > 0")))
    assert result.exit_code == 1
    assert "govern/policy.rego:16: error: calls time.now_ns()" in result.output
