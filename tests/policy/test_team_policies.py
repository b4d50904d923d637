"""A team's own Rego beside ours (`govern check --policy DIR`): its findings join the decision and every
output format, with the severity and waivability its METADATA gives, and its tests run with ours."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import EXAMPLES, EXAMPLES_NOW

pytestmark = pytest.mark.slow

GPU_BUDGET_RULE = """package govern.custom.materials_rnd

import rego.v1

# METADATA
# title: Materials runs stay small
# description: The materials team keeps pilot runs under 1000 shots.
# custom:
#   id: MAT-001
#   severity: medium
#   waivable: false
#   remediation: Split the run into batches of at most 1000 shots.
deny contains finding if {
	input.experiment.metadata.team == "materials-rnd"
	input.experiment.spec.shots > 1000
	finding := {
		"rule": "MAT-001",
		"message": sprintf("%d shots is more than the team's 1000", [input.experiment.spec.shots]),
		"resource": "spec.shots",
	}
}

# METADATA
# description: Conftest-style messages; their rule id is the package path under govern.custom.
# custom:
#   severity: low
warn contains msg if {
	not input.experiment.metadata.labels.project
	msg := "experiments of the materials team name their project in metadata.labels.project"
}
"""

TEAM_TESTS = """package govern.custom_test.materials_rnd

import rego.v1

import data.govern.custom.materials_rnd

test_mat_001_deny_a_big_run if {
	some finding in materials_rnd.deny with input as {"experiment": {
		"metadata": {"team": "materials-rnd", "labels": {}},
		"spec": {"shots": 4000},
	}}
	finding.rule == "MAT-001"
}

test_mat_001_allow_a_small_run if {
	count(materials_rnd.deny) == 0 with input as {"experiment": {
		"metadata": {"team": "materials-rnd", "labels": {}},
		"spec": {"shots": 10},
	}}
}
"""

MANIFEST = EXAMPLES / "allowed" / "vqe-h2-ibm.yaml"


def team_folder(tmp_path, rule: str = GPU_BUDGET_RULE, tests: str | None = TEAM_TESTS):
    folder = tmp_path / "team-policies"
    folder.mkdir()
    (folder / "materials.rego").write_text(rule)
    if tests is not None:
        (folder / "materials_test.rego").write_text(tests)
    return folder


def check(cli, folder, *options):
    return cli("check", MANIFEST, "--context", EXAMPLES / "context.yaml", "--now", EXAMPLES_NOW, "--policy", folder, *options)


def test_a_team_deny_rule_reaches_sarif_with_its_metadata(cli, tmp_path):
    result = check(cli, team_folder(tmp_path), "-f", "sarif")
    assert result.exit_code == 1
    (run,) = json.loads(result.output)["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["MAT-001"]["shortDescription"]["text"] == "Materials runs stay small"
    assert rules["MAT-001"]["properties"] == {"tags": ["security", "custom"], "security-severity": "5.5", "severity": "medium"}
    assert rules["MAT-001"]["help"]["text"].endswith("Remediation: Split the run into batches of at most 1000 shots.")
    (denied,) = [r for r in run["results"] if r["ruleId"] == "MAT-001"]
    assert denied["level"] == "error" and denied["message"]["text"] == "4000 shots is more than the team's 1000"
    (warned,) = [r for r in run["results"] if r["ruleId"] == "materials_rnd"]
    assert warned["level"] == "warning" and rules["materials_rnd"]["properties"]["severity"] == "low"


def test_a_team_deny_rule_reaches_junit(cli, tmp_path):
    result = check(cli, team_folder(tmp_path), "-f", "junit")
    assert result.exit_code == 1
    (case,) = [case for case in ET.fromstring(result.output).iter("testcase") if case.get("name") == "MAT-001"]
    failure = case.find("failure")
    assert failure is not None and "MAT-001" in (failure.get("type", "") + failure.get("message", "") + (failure.text or ""))


def test_without_the_folder_the_same_manifest_is_allowed(cli):
    result = cli("check", MANIFEST, "--context", EXAMPLES / "context.yaml", "--now", EXAMPLES_NOW)
    assert result.exit_code == 0


def test_a_team_rule_without_metadata_is_high_and_waivable(cli, tmp_path):
    plain = "package govern.custom.chem\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.experiment.spec.shots > 1\n\tmsg := \"no\"\n}\n"
    result = check(cli, team_folder(tmp_path, plain, tests=None), "-f", "json")
    assert result.exit_code == 1
    (finding,) = [f for f in json.loads(result.output)["results"][0]["decision"]["deny"] if f["rule"] == "chem"]
    assert (finding["severity"], finding["waivable"], finding["area"]) == ("high", True, "custom")


def test_a_malformed_team_finding_denies_instead_of_vanishing(cli, tmp_path):
    broken = "package govern.custom.broken\n\nimport rego.v1\n\ndeny contains finding if {\n\tfinding := {\"why\": 1}\n}\n"
    result = check(cli, team_folder(tmp_path, broken, tests=None), "-f", "json")
    assert result.exit_code == 1
    rules = [f["rule"] for f in json.loads(result.output)["results"][0]["decision"]["deny"]]
    assert "GOV-FINDING" in rules


def test_team_tests_run_with_ours(cli, tmp_path):
    result = cli("policy", "test", "--policy", team_folder(tmp_path), "-v")
    assert result.exit_code == 0, result.output
    assert "test_mat_001_deny_a_big_run" in result.output and " 0 failed" in result.output


def test_team_rules_are_in_the_catalogue(cli, tmp_path):
    listed = json.loads(cli("policy", "list", "--policy", team_folder(tmp_path), "--format", "json").output)
    assert listed["MAT-001"]["severity"] == "medium" and listed["MAT-001"]["waivable"] is False
    assert listed["materials_rnd"]["kind"] == "warn"
