"""JUnit XML, so CI systems that only understand test reports still show each file as a pass or a fail.

Each checked file is one testcase. A deny is a <failure>, an input error an <error>; warnings and
waivers go to <system-out>, and become a <failure> too when the run treats warnings as failures.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from govern.check.report import CheckReport, CheckResult
from govern.output._common import findings, problem_text, waiver_note
from govern.policy.decision import Finding

SUITE_NAME = "govern check"
INPUT_ERROR_TYPE = "GOV-INPUT"

# Characters XML 1.0 cannot carry at all; they are dropped rather than produce a file parsers reject.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class JUnitFormatter:
    """Writes testsuites > testsuite > testcase in the shape the common JUnit schema (Jenkins, GitLab) reads."""

    name = "junit"

    def render(self, report: CheckReport) -> str:
        cases = [_testcase(result, report.fail_on_warn) for result in report.results]
        failures = sum(case.find("failure") is not None for case in cases)
        errors = sum(case.find("error") is not None for case in cases)
        seconds = sum(float(case.get("time", "0")) for case in cases)
        totals = {
            "tests": str(len(cases)),
            "failures": str(failures),
            "errors": str(errors),
            "skipped": "0",
            "time": f"{seconds:.3f}",
        }
        root = ET.Element("testsuites", {"name": "govern", **totals})
        suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **totals})
        suite.extend(cases)
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(result: CheckResult, fail_on_warn: bool) -> ET.Element:
    decision = result.decision
    seconds = decision.evaluation_ms / 1000 if decision is not None else 0.0
    case = ET.Element(
        "testcase",
        {"classname": _clean(result.source), "name": _clean(result.name or result.source), "time": f"{seconds:.3f}"},
    )
    if result.error is not None:
        problems = result.error.problems
        text = "\n".join(problem_text(result.error.source, problem) for problem in problems)
        _child(case, "error", text, message=f"input cannot be checked: {problems[0].message}", type=INPUT_ERROR_TYPE)
        return case
    assert decision is not None
    denied = list(decision.deny)
    if fail_on_warn:
        denied += decision.warn
    if denied:
        _child(
            case,
            "failure",
            "\n\n".join(_finding_text(result, f) for f in denied),
            message=denied[0].message if len(denied) == 1 else f"{len(denied)} rules failed: {_rule_list(denied)}",
            type=_rule_list(denied),
        )
    out = [f"decision {decision.decision_id} (bundle {decision.bundle_revision}, engine {decision.engine})"]
    for kind, finding in findings(decision):
        if kind == "warn":
            out.append("warning: " + _finding_text(result, finding))
        elif kind == "waived":
            out.append(f"waived ({waiver_note(finding)}): " + _finding_text(result, finding))
    _child(case, "system-out", "\n\n".join(out))
    return case


def _finding_text(result: CheckResult, finding: Finding) -> str:
    line, column = result.location_of(finding.resource)
    lines = [
        f"{finding.rule} [{finding.severity}] {finding.message}",
        f"  at {result.source}:{line}:{column}" + (f" ({finding.resource})" if finding.resource else ""),
    ]
    if finding.remediation:
        lines.append(f"  remediation: {finding.remediation}")
    return "\n".join(lines)


def _rule_list(denied: list[Finding]) -> str:
    return ",".join(dict.fromkeys(f.rule for f in denied))


def _child(parent: ET.Element, tag: str, text: str, **attributes: str) -> None:
    element = ET.SubElement(parent, tag, {key: _clean(value) for key, value in attributes.items()})
    element.text = _clean(text)


def _clean(value: str) -> str:
    return _NOT_XML.sub("", value)
