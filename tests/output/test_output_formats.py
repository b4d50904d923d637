"""The output formats, checked against what their consumers accept (JSON, JUnit, SARIF, GitHub Actions)."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from importlib import import_module
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml

from govern.check.report import CheckReport, CheckResult
from govern.distribution import DISTRIBUTION
from govern.errors import InputError, Problem
from govern.output import available_formats
from govern.output.github import GitHubFormatter, escape_data, escape_property
from govern.output.json import JsonFormatter
from govern.output.junit import JUnitFormatter
from govern.output.sarif import SarifFormatter
from govern.output.text import TextFormatter
from govern.policy.decision import Decision, Finding

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "schemas" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
FORMATTERS = [TextFormatter, JsonFormatter, JUnitFormatter, SarifFormatter, GitHubFormatter]
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


def make_report(fail_on_warn: bool = False) -> CheckReport:
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


# ---------------------------------------------------------------------------------------------- all


@pytest.mark.parametrize("formatter", FORMATTERS, ids=lambda f: f.name)
def test_formatters_do_not_mutate_the_report(formatter):
    report = make_report(fail_on_warn=True)
    before = snapshot(report)
    first = formatter().render(report)
    assert snapshot(report) == before
    assert formatter().render(report) == first, "rendering twice gives the same text"


@pytest.mark.parametrize("formatter", FORMATTERS, ids=lambda f: f.name)
def test_empty_report_renders(formatter):
    assert formatter().render(CheckReport(results=())).endswith("\n")


def test_pyproject_entry_points_load_the_formatters():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["govern.output"]
    assert set(declared) == {"text", "json", "junit", "sarif", "github"}
    for name, target in declared.items():
        module, _, attribute = target.partition(":")
        cls = getattr(import_module(module), attribute)
        assert cls.name == name


def test_registry_lists_all_five_formats():
    try:
        distribution(DISTRIBUTION)
    except PackageNotFoundError:
        pytest.skip("govern is not installed, so its entry points are not registered (pip install -e .)")
    formats = available_formats()
    assert {"text", "json", "junit", "sarif", "github"} <= set(formats)
    assert formats["sarif"] is SarifFormatter


# --------------------------------------------------------------------------------------------- text


def test_text_lists_findings_with_markers_and_locations():
    out = TextFormatter(width=200).render(make_report())
    assert f"DENIED  {DENIED} (vqe-h2-sweep)" in out
    assert "  ✗ DC-001 [critical] dataset chem/h2-pes is classified restricted" in out
    assert "    → Run on aer_simulator or an on-prem device, or reclassify the dataset." in out
    assert f"    at {DENIED}:13:5 (spec.datasets[0])" in out
    assert f"WARNED  {WARNED} (qaoa-maxcut)" in out
    assert "  ! COST-002 [medium]" in out
    assert "  ~ REG-003 [high]" in out
    assert "waiver WVR-17 approved by alice@example.org: pilot, synthetic data" in out
    assert f"ERROR   {BROKEN}" in out
    assert f"  ✗ {BROKEN}:9:10: spec.shots: must be a positive integer" in out
    assert f"ALLOWED {ALLOWED} (bell)" in out


def test_text_summary_has_counts_and_short_decision_facts():
    out = TextFormatter(width=200).render(make_report())
    assert "5 checked: 2 allowed, 1 warned, 1 denied, 1 error; exit code 2" in out
    assert "0f6c2d9e" in out and "0f6c2d9e-1b7a" not in out
    assert "3f9a0c1b2d4e" in out and "3f9a0c1b2d4e5" not in out


def test_text_has_no_ansi_unless_asked(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" not in TextFormatter().render(make_report())
    assert "\x1b[" in TextFormatter(color=True).render(make_report())


def test_text_keeps_square_brackets_in_messages():
    """rich markup must not eat policy text such as `[critical]` or `spec.datasets[0]`."""
    finding = DC_001.model_copy(update={"message": "see [bold]spec.datasets[0][/bold]"})
    report = CheckReport(results=(CheckResult(source="a.yaml", decision=decision(deny=[finding])),))
    assert "see [bold]spec.datasets[0][/bold]" in TextFormatter(width=200).render(report)


# --------------------------------------------------------------------------------------------- json


def test_json_document_carries_exit_codes_and_decisions():
    document = json.loads(JsonFormatter().render(make_report()))
    assert list(document) == ["summary", "results"]
    assert document["summary"] == {
        "allowed": 2,
        "warned": 1,
        "denied": 1,
        "error": 1,
        "total": 5,
        "fail_on_warn": False,
        "exit_code": 2,
    }
    denied, warned, waived, allowed, broken = document["results"]
    assert list(denied) == ["source", "name", "status", "exit_code", "decision", "error"]
    assert (denied["status"], denied["exit_code"], denied["error"]) == ("denied", 1, None)
    assert denied["decision"]["decision_id"] == "0f6c2d9e-1b7a-4c52-9a51-3f1e2d4c5b6a"
    assert [f["rule"] for f in denied["decision"]["deny"]] == ["DC-001", "DC-001", "SEC-004"]
    assert denied["decision"]["evaluated_at"].startswith("2026-05-04T12:00:00")
    assert (warned["status"], warned["exit_code"]) == ("warned", 0)
    assert waived["decision"]["waived"][0]["waiver"]["id"] == "WVR-17"
    assert broken["decision"] is None
    assert broken["exit_code"] == 2
    assert broken["error"] == {
        "source": BROKEN,
        "problems": [
            {"message": "must be a positive integer", "field": "spec.shots", "line": 9, "column": 10},
            {
                "message": "file has a second YAML document, only one Experiment is allowed",
                "field": "",
                "line": 0,
                "column": None,
            },
        ],
    }


def test_json_fail_on_warn_raises_the_warned_exit_code():
    document = json.loads(JsonFormatter().render(CheckReport(results=make_report().results[1:2], fail_on_warn=True)))
    assert document["summary"]["exit_code"] == 1
    assert document["results"][0]["exit_code"] == 1


# -------------------------------------------------------------------------------------------- junit


def parse_junit(text: str, tmp_path: Path) -> JUnitXml:
    path = tmp_path / "govern.xml"
    path.write_text(text, encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def test_junit_counts_failures_and_errors(tmp_path):
    xml = parse_junit(JUnitFormatter().render(make_report()), tmp_path)
    (suite,) = list(xml)
    assert suite.name == "govern check"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 1, 0)
    assert (xml.tests, xml.failures, xml.errors) == (5, 1, 1)
    cases = {case.classname: case for case in suite}
    assert set(cases) == {DENIED, WARNED, WAIVED, ALLOWED, BROKEN}

    denied = cases[DENIED]
    assert denied.name == "vqe-h2-sweep"
    (failure,) = denied.result
    assert isinstance(failure, Failure)
    assert failure.type == "DC-001,SEC-004"
    assert failure.message == "3 rules failed: DC-001,SEC-004"
    assert f"at {DENIED}:13:5 (spec.datasets[0])" in failure.text
    assert "remediation: Use env:VAR or vault:path." in failure.text

    assert cases[WARNED].is_passed
    assert "warning: COST-002 [medium]" in cases[WARNED].system_out
    assert "waiver WVR-17 approved by alice@example.org" in cases[WAIVED].system_out
    assert cases[ALLOWED].is_passed
    assert "decision 0f6c2d9e-1b7a-4c52-9a51-3f1e2d4c5b6a" in cases[ALLOWED].system_out

    broken = cases[BROKEN]
    assert broken.name == BROKEN, "a file without an experiment name is named after the file"
    (error,) = broken.result
    assert isinstance(error, Error)
    assert error.type == "GOV-INPUT"
    assert f"{BROKEN}:9:10: spec.shots: must be a positive integer" in error.text


def test_junit_fail_on_warn_turns_warnings_into_failures(tmp_path):
    xml = parse_junit(JUnitFormatter().render(make_report(fail_on_warn=True)), tmp_path)
    (suite,) = list(xml)
    assert (suite.failures, suite.errors) == (2, 1)
    warned = next(case for case in suite if case.classname == WARNED)
    (failure,) = warned.result
    assert (failure.type, failure.message) == ("COST-002", COST_002.message)


def test_junit_drops_characters_xml_cannot_carry(tmp_path):
    finding = SEC_004.model_copy(update={"message": "bad byte \x00\x1b here & <there>"})
    report = CheckReport(results=(CheckResult(source="a.yaml", decision=decision(deny=[finding])),))
    (suite,) = list(parse_junit(JUnitFormatter().render(report), tmp_path))
    (case,) = list(suite)
    assert case.result[0].message == "bad byte  here & <there>"


# -------------------------------------------------------------------------------------------- sarif


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
    assert [rule["id"] for rule in driver["rules"]] == ["DC-001", "SEC-004", "COST-002", "REG-003", "GOV-INPUT"]


def test_sarif_rules_describe_each_rule_once():
    rules = {rule["id"]: rule for rule in render_sarif(make_report())["runs"][0]["tool"]["driver"]["rules"]}
    dc = rules["DC-001"]
    assert dc["name"] == "data_classification/DC-001"
    assert dc["help"]["text"] == DC_001.remediation
    assert dc["properties"]["tags"] == ["data_classification"]
    assert dc["defaultConfiguration"]["level"] == "error"
    assert dc["shortDescription"]["text"].endswith("on-prem backend")
    assert rules["COST-002"]["defaultConfiguration"]["level"] == "warning"
    assert rules["REG-003"]["defaultConfiguration"]["level"] == "error", "a waived deny rule is still a deny rule"


def test_sarif_results_levels_locations_and_suppressions():
    log = render_sarif(make_report())
    run = log["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("DC-001", "error"),
        ("DC-001", "error"),
        ("SEC-004", "error"),
        ("COST-002", "warning"),
        ("REG-003", "note"),
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
    assert "suppressions" not in results[3]
    assert results[4]["suppressions"] == [
        {"kind": "external", "justification": "waiver WVR-17 approved by alice@example.org: pilot, synthetic data"}
    ]
    shots, second_document = results[5:]
    assert shots["message"]["text"] == "spec.shots: must be a positive integer"
    assert shots["locations"][0]["physicalLocation"]["region"] == {"startLine": 9, "startColumn": 10}
    assert second_document["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 1}


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


# ------------------------------------------------------------------------------------------- github


def test_github_escaping_follows_the_actions_toolkit():
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"


def test_github_commands_per_finding_and_problem():
    lines = GitHubFormatter().render(make_report()).splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == 7
    assert commands[0] == (
        f"::error file={DENIED},line=13,col=5,title=DC-001::"
        "dataset chem/h2-pes is classified restricted and may only run on a local simulator or on-prem backend; "
        "run it on aer_simulator%0A→ Run on aer_simulator or an on-prem device, or reclassify the dataset."
    )
    warning = commands[3]
    assert warning.startswith(f"::warning file={WARNED},line=9,col=10,title=COST-002::")
    assert "%0A→ Lower the shots,%0Aor ask for a larger budget." in warning
    assert "96%25 of the sandbox budget: 500.00 USD, line 2" in warning, "data keeps ':' and ','"
    notice = commands[4]
    assert notice.startswith(f"::notice file={WAIVED},line=1,col=1,title=REG-003::")
    assert "%0Awaiver WVR-17 approved by alice@example.org: pilot, synthetic data" in notice
    assert commands[5] == f"::error file={BROKEN},line=9,col=10,title=GOV-INPUT::spec.shots: must be a positive integer"
    assert commands[6].startswith(f"::error file={BROKEN},line=1,title=GOV-INPUT::file has a second YAML document")
    assert lines[-1] == "govern check: 5 checked, 2 allowed, 1 warned, 1 denied, 1 error; exit code 2"
    assert len(lines) == 8, "no message spills onto a line of its own"


def test_github_escapes_properties():
    odd_rule = SEC_004.model_copy(update={"rule": "X:1,2"})
    report = CheckReport(results=(CheckResult(source="dir,x/a:b.yaml", decision=decision(deny=[odd_rule])),))
    command = GitHubFormatter().render(report).splitlines()[0]
    assert command.startswith("::error file=dir%2Cx/a%3Ab.yaml,line=1,col=1,title=X%3A1%2C2::")


def test_github_fail_on_warn_annotates_warnings_as_errors():
    lines = GitHubFormatter().render(make_report(fail_on_warn=True)).splitlines()
    assert lines[3].startswith(f"::error file={WARNED},line=9,col=10,title=COST-002::")
    assert lines[-1].endswith("exit code 2")
