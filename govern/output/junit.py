"""JUnit XML, so CI systems that only understand test reports show each experiment's rules as tests.

One testsuite per checked file, one testcase per rule: every rule of the catalogue (a rule that did not fire
is a passed test, so a fix shows as one) and any rule that fired outside it. A deny is a <failure>, an input
error an <error> of the single GOV-INPUT case. A warning, and a deny let through by a waiver, is <skipped>
with its message: GitLab and Jenkins list skipped tests apart from the passes, with the message, and neither
fails the report for them, as govern check does not fail for them. With --fail-on-warn a warning is a
<failure> of type `warning`.

Each testcase has `file` (GitLab and Buildkite link it) and the classname `<file>.<experiment>`: the file's
path with `/` as `.` and the dots inside names as `_`, then the experiment's name (`input` for a document
that could not be read). Jenkins splits a classname at its last dot into package and class, so
`examples/denied/x.yaml` holding experiment `e` is package `examples.denied.x_yaml`, class `e`, and never
class `yaml`. A file may hold several experiments; a (classname, name) pair that repeats gets ` (2)`, ` (3)`
…, since GitLab keeps only the first of a repeated test.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from govern.check.report import CheckReport, CheckResult
from govern.output._common import findings, problem_text, repo_path, waiver_note
from govern.policy.decision import Decision, Finding

SUITES_NAME = "govern"
INPUT_ERROR_TYPE = "GOV-INPUT"
NO_RULES_CASE = "policies"
"""The one testcase of an experiment when there is no catalogue to list and no rule fired."""
_COUNTED = {"failure": "failures", "error": "errors", "skipped": "skipped"}

# Characters XML 1.0 cannot carry at all; they are dropped rather than produce a file parsers reject.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class JUnitFormatter:
    """Writes testsuites > testsuite > testcase in the shape the common JUnit schema (Jenkins, GitLab) reads."""

    name = "junit"

    def render(self, report: CheckReport) -> str:
        suites = [_testsuite(result, report.fail_on_warn, report.rules) for result in report.results]
        _number_repeats(suites)
        root = ET.Element("testsuites", {"name": SUITES_NAME, **_totals(suites)})
        root.extend(suites)
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _testsuite(result: CheckResult, fail_on_warn: bool, rules: Mapping[str, Mapping[str, Any]]) -> ET.Element:
    path = repo_path(result.source)
    suite = ET.Element("testsuite", {"name": _clean(result.name or path), "file": _clean(path)})
    context = {"classname": _clean(classname(path, result.name)), "file": _clean(path)}
    if result.error is not None:
        problems = result.error.problems
        case = ET.SubElement(suite, "testcase", {**context, "name": INPUT_ERROR_TYPE})
        text = "\n".join(problem_text(result.error.source, problem) for problem in problems)
        _child(case, "error", text, message=f"input cannot be checked: {problems[0].message}", type=INPUT_ERROR_TYPE)
    else:
        assert result.decision is not None
        _properties(suite, result.decision)
        by_rule: dict[str, list[tuple[str, Finding]]] = {rule: [] for rule in sorted(rules)}
        for kind, finding in findings(result.decision):
            by_rule.setdefault(finding.rule, []).append((kind, finding))
        for rule, fired in (by_rule or {NO_RULES_CASE: []}).items():
            case = ET.SubElement(suite, "testcase", {**context, "name": _clean(rule)})
            _outcome(case, result, fired, fail_on_warn)
    seconds = result.decision.evaluation_ms / 1000 if result.decision is not None else 0.0
    suite.attrib.update(_totals([suite], seconds))
    return suite


def _outcome(case: ET.Element, result: CheckResult, fired: list[tuple[str, Finding]], fail_on_warn: bool) -> None:
    """The rule's worst finding decides: a deny fails, a warning fails only with --fail-on-warn, else skipped."""
    kinds = {kind for kind, _ in fired}
    if not kinds:
        return
    text = "\n\n".join(_finding_text(result, kind, finding) for kind, finding in fired)
    if "deny" in kinds:
        _child(case, "failure", text, message=_message([f for kind, f in fired if kind == "deny"]), type="deny")
    elif "warn" in kinds:
        message = "warning: " + _message([f for kind, f in fired if kind == "warn"])
        if fail_on_warn:
            _child(case, "failure", text, message=message, type="warning")
        else:
            _child(case, "skipped", text, message=message)
    else:
        waived = [f for _, f in fired]
        _child(case, "skipped", text, message=f"waived: {waiver_note(waived[0])}: {_message(waived)}")


def _properties(suite: ET.Element, decision: Decision) -> None:
    properties = ET.SubElement(suite, "properties")
    facts = {
        "decision": decision.decision_id,
        "outcome": decision.outcome.value,
        "bundle": decision.bundle_revision,
        "engine": decision.engine,
    }
    for name, value in facts.items():
        ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})


def _totals(suites: list[ET.Element], seconds: float | None = None) -> dict[str, str]:
    """tests/failures/errors/skipped counted from the cases; time is the decision's, or the suites' sum."""
    cases = [case for suite in suites for case in suite.iter("testcase")]
    totals = {"tests": str(len(cases))}
    for tag, attribute in _COUNTED.items():
        totals[attribute] = str(sum(case.find(tag) is not None for case in cases))
    if seconds is None:
        seconds = sum(float(suite.get("time", "0")) for suite in suites)
    totals["time"] = f"{seconds:.6f}"
    return totals


def classname(path: str, experiment: str) -> str:
    """`<file>.<experiment>`, with the dots inside each part made `_` (see the module docstring)."""
    parts = [part for part in PurePosixPath(path).parts if part != "/"] + [experiment or "input"]
    return ".".join(part.replace(".", "_") for part in parts)


def _number_repeats(suites: list[ET.Element]) -> None:
    seen: Counter[tuple[str | None, str | None]] = Counter()
    for case in (case for suite in suites for case in suite.iter("testcase")):
        key = (case.get("classname"), case.get("name"))
        seen[key] += 1
        if seen[key] > 1:
            case.set("name", f"{key[1]} ({seen[key]})")


def _message(group: list[Finding]) -> str:
    first = group[0].message
    return first if len(group) == 1 else f"{first} (and {len(group) - 1} more)"


def _finding_text(result: CheckResult, kind: str, finding: Finding) -> str:
    line, column = result.location_of(finding.resource)
    label = {"deny": "", "warn": "warning: ", "waived": f"waived ({waiver_note(finding)}): "}[kind]
    lines = [
        f"{label}{finding.rule} [{finding.severity}] {finding.message}",
        f"  at {result.source}:{line}:{column}" + (f" ({finding.resource})" if finding.resource else ""),
    ]
    if finding.remediation:
        lines.append(f"  remediation: {finding.remediation}")
    return "\n".join(lines)


def _child(parent: ET.Element, tag: str, text: str, **attributes: str) -> None:
    element = ET.SubElement(parent, tag, {key: _clean(value) for key, value in attributes.items()})
    element.text = _clean(text)


def _clean(value: str) -> str:
    return _NOT_XML.sub("", value)
