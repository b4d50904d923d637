"""SARIF 2.1.0 as GitHub code scanning reads it: valid against the official schema, rules described by the
catalogue with a security severity, waived findings out of the open alerts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from govern.check.report import CheckReport, CheckResult
from govern.output.sarif import SarifFormatter
from tests.conftest import ROOT
from tests.output.reports import (
    CATALOGUE,
    DC_001,
    DC_001_FALLBACK,
    DENIED,
    REG_003,
    SEC_004,
    WAIVED,
    decision,
    make_report,
)

SARIF_SCHEMA = json.loads((ROOT / "tests" / "schemas" / "sarif-2.1.0.json").read_text(encoding="utf-8"))



def render_sarif(report: CheckReport) -> dict:
    log = json.loads(SarifFormatter().render(report))
    jsonschema.validate(log, SARIF_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return log


def test_vendored_sarif_schema_is_the_official_2_1_0_schema():
    jsonschema.Draft7Validator.check_schema(SARIF_SCHEMA)
    assert SARIF_SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert SARIF_SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]


def test_sarif_validates_against_the_schema():
    log = render_sarif(make_report())
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "govern"
    assert driver["version"]
    assert [rule["id"] for rule in driver["rules"]] == ["DC-001", "SEC-004", "COST-002", "GOV-INPUT"]


def test_sarif_rules_describe_each_rule_once():
    rules = {rule["id"]: rule for rule in render_sarif(make_report(rules=CATALOGUE))["runs"][0]["tool"]["driver"]["rules"]}
    dc = rules["DC-001"]
    assert dc["name"] == "data_classification/DC-001"
    assert dc["defaultConfiguration"]["level"] == "error"
    assert rules["COST-002"]["defaultConfiguration"]["level"] == "warning"


def test_sarif_rules_are_described_by_the_catalogue_not_by_a_finding():
    rules = {rule["id"]: rule for rule in render_sarif(make_report(rules=CATALOGUE))["runs"][0]["tool"]["driver"]["rules"]}
    for rule_id in ("DC-001", "SEC-004", "COST-002"):
        assert rules[rule_id]["shortDescription"] == {"text": CATALOGUE[rule_id]["title"]}
        assert rules[rule_id]["fullDescription"] == {"text": CATALOGUE[rule_id]["description"]}


def test_sarif_rule_texts_stay_the_same_when_the_messages_change():
    """Without a catalogue entry (a service-side check) the texts come from the rule id, not the first message."""
    first = CheckReport(results=(CheckResult(source=DENIED, decision=decision(deny=[DC_001])),))
    second = CheckReport(results=(CheckResult(source=DENIED, decision=decision(deny=[DC_001_FALLBACK])),))
    (one,) = render_sarif(first)["runs"][0]["tool"]["driver"]["rules"]
    (two,) = render_sarif(second)["runs"][0]["tool"]["driver"]["rules"]
    assert one == two
    assert DC_001.message not in json.dumps(one)
    assert one["shortDescription"]["text"] == "Policy rule DC-001 (data_classification)"


def test_sarif_rules_carry_a_security_severity_and_the_security_tag():
    rules = render_sarif(make_report(rules=CATALOGUE))["runs"][0]["tool"]["driver"]["rules"]
    scores = {rule["id"]: rule["properties"]["security-severity"] for rule in rules}
    assert scores == {"DC-001": "9.5", "SEC-004": "8.0", "COST-002": "5.5", "GOV-INPUT": "8.0"}
    for rule in rules:
        assert "security" in rule["properties"]["tags"]
        assert 0 <= float(rule["properties"]["security-severity"]) <= 10
    assert rules[0]["properties"]["tags"] == ["security", "data_classification"]
    assert rules[1]["properties"]["tags"] == ["security"], "the security area is not tagged twice"


def test_sarif_help_gives_the_remediation_as_text_and_markdown():
    rules = {rule["id"]: rule for rule in render_sarif(make_report(rules=CATALOGUE))["runs"][0]["tool"]["driver"]["rules"]}
    dc = rules["DC-001"]["help"]
    assert dc["text"].endswith("Remediation: " + CATALOGUE["DC-001"]["remediation"])
    assert dc["markdown"] == (
        r"A dataset classified restricted may only be used on a local\_simulator or onprem backend."
        "\n\n**Remediation:** Run on aer\\_simulator or an on-prem device, or reclassify the dataset."
    )
    assert rules["COST-002"]["help"]["markdown"].endswith("Lower the shots,<br>or ask for a larger budget.")
    assert "markdown" in rules["GOV-INPUT"]["help"]


def test_sarif_results_levels_and_locations():
    log = render_sarif(make_report())
    run = log["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("DC-001", "error"),
        ("DC-001", "error"),
        ("SEC-004", "error"),
        ("COST-002", "warning"),
        ("GOV-INPUT", "error"),
        ("GOV-INPUT", "error"),
    ]
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1

    first = results[0]["locations"][0]
    assert first["physicalLocation"]["artifactLocation"] == {"uri": DENIED, "uriBaseId": "%SRCROOT%"}
    assert first["physicalLocation"]["region"] == {"startLine": 13, "startColumn": 5}
    assert first["logicalLocations"] == [{"fullyQualifiedName": "spec.datasets[0]", "kind": "element"}]
    # spec.credentials.token is not in the locations: the nearest parent (spec) is used
    assert results[2]["locations"][0]["physicalLocation"]["region"] == {"startLine": 5, "startColumn": 1}
    assert all("suppressions" not in result for result in results)
    shots, second_document = results[4:]
    assert shots["message"]["text"] == "spec.shots: must be a positive integer"
    assert shots["locations"][0]["physicalLocation"]["region"] == {"startLine": 9, "startColumn": 10}
    assert second_document["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 1}


def test_sarif_leaves_waived_findings_out_of_the_results_and_lists_them_in_the_run():
    """GitHub ignores `suppressions`: a suppressed result would still be an open alert."""
    (run,) = render_sarif(make_report())["runs"]
    assert "REG-003" not in {result["ruleId"] for result in run["results"]}
    assert run["properties"]["waived"] == [
        {
            "ruleId": "REG-003",
            "message": REG_003.message,
            "location": {
                "physicalLocation": {
                    "artifactLocation": {"uri": WAIVED, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 1, "startColumn": 1},
                },
                "logicalLocations": [{"fullyQualifiedName": "spec.backend.region", "kind": "element"}],
            },
            "waiver": {"id": "WVR-17", "approver": "alice@example.org", "reason": "pilot, synthetic data"},
        }
    ]


def test_sarif_fingerprints_are_stable_and_distinct():
    results = render_sarif(make_report())["runs"][0]["results"]
    prints = [r["partialFingerprints"]["governFinding/v1"] for r in results]
    assert len(set(prints)) == len(prints), "two DC-001 findings on one dataset still get two alerts"
    assert prints[0].rsplit(":", 1)[0] == prints[1].rsplit(":", 1)[0]
    again = render_sarif(make_report(fail_on_warn=True))["runs"][0]["results"]
    assert prints == [r["partialFingerprints"]["governFinding/v1"] for r in again]
    moved = CheckReport(
        results=(CheckResult(source=DENIED, decision=decision(deny=[DC_001]), locations={"spec.datasets[0]": (40, 2)}),)
    )
    assert render_sarif(moved)["runs"][0]["results"][0]["partialFingerprints"]["governFinding/v1"] == prints[0]


def test_sarif_paths_are_relative_with_forward_slashes(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    inside = tmp_path / "experiments" / "my run.yaml"
    outside = Path("/elsewhere/x.yaml")
    report = CheckReport(
        results=(
            CheckResult(source=str(inside), decision=decision(deny=[SEC_004])),
            CheckResult(source="./experiments/b.yaml", decision=decision(deny=[SEC_004])),
            CheckResult(source=str(outside), decision=decision(deny=[SEC_004])),
        )
    )
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"] for r in render_sarif(report)["runs"][0]["results"]
    ]
    assert uris == [
        {"uri": "experiments/my%20run.yaml", "uriBaseId": "%SRCROOT%"},
        {"uri": "experiments/b.yaml", "uriBaseId": "%SRCROOT%"},
        {"uri": "file:///elsewhere/x.yaml"},
    ]


def test_sarif_with_no_findings_is_a_valid_empty_run():
    (run,) = render_sarif(CheckReport(results=make_report().results[3:4]))["runs"]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["properties"] == {"waived": []}
