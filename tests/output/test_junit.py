"""JUnit XML as test-report readers take it (read back with junitparser): one testcase per experiment and rule,
with the `file` GitLab and Buildkite read and a classname Jenkins splits into file and experiment, not at `.yaml`."""

from __future__ import annotations

from pathlib import Path

from junitparser import Attr, Error, Failure, JUnitXml, Skipped, TestCase

from govern.check.report import CheckReport, CheckResult
from govern.output.junit import JUnitFormatter
from tests.output.reports import (
    BROKEN,
    CATALOGUE,
    COST_002,
    DENIED,
    SEC_004,
    WARNED,
    decision,
    make_report,
)


class LocatedCase(TestCase):
    """A testcase with the attributes junitparser does not name."""

    file = Attr()


def parse_junit(text: str, tmp_path: Path) -> JUnitXml:
    path = tmp_path / "govern.xml"
    path.write_text(text, encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def cases(xml: JUnitXml) -> dict[tuple[str, str], LocatedCase]:
    """(classname, name) → testcase, across every suite."""
    return {(case.classname, case.name): case for suite in xml for case in suite.iterchildren(LocatedCase)}


def test_junit_has_a_suite_per_experiment_and_a_case_per_rule(tmp_path):
    xml = parse_junit(JUnitFormatter().render(make_report(rules=CATALOGUE)), tmp_path)
    suites = {suite.name: suite for suite in xml}
    assert list(suites) == ["vqe-h2-sweep", "qaoa-maxcut", "ghz-eu", "bell", BROKEN]
    rule_ids = sorted(CATALOGUE)
    for name in ("vqe-h2-sweep", "qaoa-maxcut", "ghz-eu", "bell"):
        assert [case.name for case in suites[name]] == rule_ids, "every catalogue rule is a test, passed or not"
    assert [case.name for case in suites[BROKEN]] == ["GOV-INPUT"]
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (17, 2, 1, 2)
    denied = suites["vqe-h2-sweep"]
    assert (denied.tests, denied.failures, denied.errors, denied.skipped) == (4, 2, 0, 0)
    assert denied.time == 0.0125
    properties = {p.name: p.value for p in denied.properties()}
    assert properties == {
        "decision": "0f6c2d9e-1b7a-4c52-9a51-3f1e2d4c5b6a",
        "outcome": "denied",
        "bundle": "3f9a0c1b2d4e5f60718293a4b5c6d7e8f9012345",
        "engine": "embedded",
    }


def test_junit_cases_name_their_file_and_a_classname_jenkins_does_not_split_at_the_extension(tmp_path):
    by_key = cases(parse_junit(JUnitFormatter().render(make_report(rules=CATALOGUE)), tmp_path))
    case = by_key[("examples.denied.restricted-to-ibm_yaml.vqe-h2-sweep", "DC-001")]
    assert case.file == DENIED
    assert case.classname.rsplit(".", 1) == ["examples.denied.restricted-to-ibm_yaml", "vqe-h2-sweep"], "Jenkins: package, class"
    assert by_key[("examples.invalid.bad-shots_yaml.input", "GOV-INPUT")].file == BROKEN


def test_junit_names_stay_unique_when_a_file_holds_the_same_experiment_twice(tmp_path):
    twice = CheckResult(source="batch.yaml", name="bell", decision=decision(deny=[SEC_004]))
    xml = parse_junit(JUnitFormatter().render(CheckReport(results=(twice, twice))), tmp_path)
    assert sorted(cases(xml)) == [("batch_yaml.bell", "SEC-004"), ("batch_yaml.bell", "SEC-004 (2)")]


def test_junit_denies_fail_with_every_finding_of_the_rule(tmp_path):
    by_key = cases(parse_junit(JUnitFormatter().render(make_report(rules=CATALOGUE)), tmp_path))
    (failure,) = by_key[("examples.denied.restricted-to-ibm_yaml.vqe-h2-sweep", "DC-001")].result
    assert isinstance(failure, Failure)
    assert failure.type == "deny"
    assert failure.message.startswith("dataset chem/h2-pes is classified restricted") and failure.message.endswith("(and 1 more)")
    assert f"at {DENIED}:13:5 (spec.datasets[0])" in failure.text
    assert "the fallback is external" in failure.text
    (failure,) = by_key[("examples.denied.restricted-to-ibm_yaml.vqe-h2-sweep", "SEC-004")].result
    assert failure.message == SEC_004.message
    assert "remediation: Use env:VAR or vault:path." in failure.text
    assert by_key[("examples.denied.restricted-to-ibm_yaml.vqe-h2-sweep", "COST-002")].is_passed


def test_junit_warnings_and_waivers_are_skipped_with_a_message_not_plain_passes(tmp_path):
    """GitLab and Jenkins show a skipped test and its message apart from the passes, and neither fails the
    report: a warning that does not fail govern check is not a failed test either."""
    by_key = cases(parse_junit(JUnitFormatter().render(make_report(rules=CATALOGUE)), tmp_path))
    (warning,) = by_key[("examples.warned.near-budget_yaml.qaoa-maxcut", "COST-002")].result
    assert isinstance(warning, Skipped)
    assert warning.message == f"warning: {COST_002.message}"
    assert "remediation: Lower the shots," in warning.text
    (waived,) = by_key[("examples.allowed.waived-region_yaml.ghz-eu", "REG-003")].result
    assert isinstance(waived, Skipped)
    assert waived.message.startswith("waived: waiver WVR-17 approved by alice@example.org: pilot, synthetic data")
    assert by_key[("examples.allowed.bell_yaml.bell", "DC-001")].is_passed


def test_junit_fail_on_warn_turns_warnings_into_failures(tmp_path):
    xml = parse_junit(JUnitFormatter().render(make_report(fail_on_warn=True, rules=CATALOGUE)), tmp_path)
    assert (xml.failures, xml.errors, xml.skipped) == (3, 1, 1)
    (failure,) = cases(xml)[("examples.warned.near-budget_yaml.qaoa-maxcut", "COST-002")].result
    assert isinstance(failure, Failure)
    assert (failure.type, failure.message) == ("warning", f"warning: {COST_002.message}")


def test_junit_input_errors_are_errors(tmp_path):
    by_key = cases(parse_junit(JUnitFormatter().render(make_report()), tmp_path))
    (error,) = by_key[("examples.invalid.bad-shots_yaml.input", "GOV-INPUT")].result
    assert isinstance(error, Error)
    assert error.type == "GOV-INPUT"
    assert f"{BROKEN}:9:10: spec.shots: must be a positive integer" in error.text


def test_junit_without_a_catalogue_has_the_rules_that_fired(tmp_path):
    xml = parse_junit(JUnitFormatter().render(make_report()), tmp_path)
    suites = {suite.name: [case.name for case in suite] for suite in xml}
    assert suites["vqe-h2-sweep"] == ["DC-001", "SEC-004"]
    assert suites["bell"] == ["policies"], "an allowed experiment is still a passed test"
    assert WARNED in {case.file for suite in xml for case in suite.iterchildren(LocatedCase)}


def test_junit_drops_characters_xml_cannot_carry(tmp_path):
    finding = SEC_004.model_copy(update={"message": "bad byte \x00\x1b here & <there>"})
    report = CheckReport(results=(CheckResult(source="a.yaml", decision=decision(deny=[finding])),))
    (case,) = cases(parse_junit(JUnitFormatter().render(report), tmp_path)).values()
    assert case.result[0].message == "bad byte  here & <there>"
