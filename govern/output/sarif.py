"""SARIF 2.1.0, the format GitHub code scanning (and most scanners' dashboards) ingest.

Every deny and warn finding becomes a result pinned to the manifest line that caused it; input errors are
results of GOV-INPUT. Waived findings are not open alerts, and GitHub ignores `suppressions` (a suppressed
result would still open one), so they are left out of `results` and listed in the run's `properties.waived`.
Each rule is described from the rule catalogue, with a `security-severity` code scanning sorts by.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from govern.check.report import CheckReport, CheckResult
from govern.distribution import DISTRIBUTION
from govern.errors import Problem
from govern.output._common import findings, markdown_text, repo_path
from govern.policy.decision import Finding

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INPUT_RULE = "GOV-INPUT"
FINGERPRINT_KEY = "governFinding/v1"
LEVELS = {"deny": "error", "warn": "warning"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
"""Catalogue severity → the CVSS-like score code scanning maps back to critical (≥ 9), high (≥ 7), medium
(≥ 4) and low; a severity not listed counts as high rather than be understated."""
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


class SarifFormatter:
    """One run, one driver `govern`, rules limited to those that fired (GitHub needs each ruleId described)."""

    name = "sarif"

    def render(self, report: CheckReport) -> str:
        rules: dict[str, dict[str, Any]] = {}
        results: list[dict[str, Any]] = []
        waived: list[dict[str, Any]] = []
        occurrences: dict[str, int] = {}
        for check in report.results:
            waived.extend(_waived(check))
            for result, descriptor, identity in _results(check, report.rules):
                rule = rules.setdefault(result["ruleId"], descriptor)
                if descriptor["defaultConfiguration"]["level"] == "error":
                    rule["defaultConfiguration"]["level"] = "error"
                occurrences[identity] = occurrences.get(identity, 0) + 1
                result["partialFingerprints"] = {FINGERPRINT_KEY: _fingerprint(identity, occurrences[identity])}
                results.append(result)
        index = {rule_id: position for position, rule_id in enumerate(rules)}
        for result in results:
            result["ruleIndex"] = index[result["ruleId"]]
        log = {
            "$schema": SCHEMA_URI,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": {**_driver(), "rules": list(rules.values())}},
                    "columnKind": "unicodeCodePoints",
                    "results": results,
                    "properties": {"waived": waived},
                }
            ],
        }
        return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _driver() -> dict[str, Any]:
    """Name, version and home page from the installed distribution; a source checkout reports 0.0.0."""
    try:
        meta = metadata(DISTRIBUTION)
    except PackageNotFoundError:
        return {"name": "govern", "version": "0.0.0", "semanticVersion": "0.0.0"}
    driver: dict[str, Any] = {"name": "govern"}
    urls = (meta.get_all("Home-page") or []) + [entry.split(",", 1)[-1].strip() for entry in meta.get_all("Project-URL") or []]
    home = next((url for url in urls if url), None)
    if home:
        driver["informationUri"] = home
    driver["version"] = meta["Version"]
    if _SEMVER.match(meta["Version"]):
        driver["semanticVersion"] = meta["Version"]
    return driver


def _results(check: CheckResult, rules: Mapping[str, Mapping[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """(result, rule descriptor, identity) for each finding or problem; the identity feeds the fingerprint."""
    path = repo_path(check.source)
    if check.error is not None:
        path = repo_path(check.error.source)
        return [
            (_problem_result(path, problem), _input_descriptor(), _identity(INPUT_RULE, path, problem.field))
            for problem in check.error.problems
        ]
    assert check.decision is not None
    triples = []
    for kind, finding in findings(check.decision):
        if kind == "waived":
            continue
        line, column = check.location_of(finding.resource)
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": LEVELS[kind],
            "message": {"text": finding.message},
            "locations": [_location(path, line, column, finding.resource)],
        }
        descriptor = _descriptor(finding, kind, rules.get(finding.rule, {}))
        triples.append((result, descriptor, _identity(finding.rule, path, finding.resource)))
    return triples


def _waived(check: CheckResult) -> list[dict[str, Any]]:
    """The waived findings of one check, with where they are and the waiver that let them through."""
    if check.decision is None:
        return []
    path = repo_path(check.source)
    entries = []
    for finding in check.decision.waived:
        line, column = check.location_of(finding.resource)
        waiver = finding.waiver or {}
        entries.append({
            "ruleId": finding.rule,
            "message": finding.message,
            "location": _location(path, line, column, finding.resource),
            "waiver": {key: waiver[key] for key in ("id", "approver", "reason") if key in waiver},
        })
    return entries


def _problem_result(path: str, problem: Problem) -> dict[str, Any]:
    return {
        "ruleId": INPUT_RULE,
        "level": "error",
        "message": {"text": f"{problem.field}: {problem.message}" if problem.field else problem.message},
        "locations": [_location(path, problem.line or 1, problem.column or 1, problem.field)],
    }


def _input_descriptor() -> dict[str, Any]:
    """A file govern could not check is an unchecked gate, which fails closed: it scores as a high finding."""
    return {
        "id": INPUT_RULE,
        "name": f"input/{INPUT_RULE}",
        "shortDescription": {"text": "The file could not be checked"},
        "fullDescription": {"text": "The file is not a valid Experiment manifest, so no policy decision was made."},
        "help": {
            "text": "Fix the file at the reported line and field, then run govern check again.",
            "markdown": "Fix the file at the reported line and field, then run `govern check` again.",
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["security", "input"], "security-severity": SECURITY_SEVERITY["high"], "severity": "high"},
    }


def _descriptor(finding: Finding, kind: str, rule: Mapping[str, Any]) -> dict[str, Any]:
    """The rule as the catalogue (its METADATA) describes it, which is the same from run to run; a rule the
    catalogue lacks (a service-side check) gets texts made from its id, never from one finding's message.
    `warning` for a warn rule, `error` for a deny rule even where waived."""
    area = rule.get("area") or finding.area
    severity = rule.get("severity") or finding.severity
    title = rule.get("title") or f"Policy rule {finding.rule} ({area})"
    description = rule.get("description") or f"Rule {finding.rule} of the {area} policies; `govern policy list` describes it."
    remediation = rule.get("remediation") or finding.remediation or "See the rule in `govern policy list`."
    return {
        "id": finding.rule,
        "name": f"{area}/{finding.rule}",
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "help": {
            "text": f"{description}\n\nRemediation: {remediation}",
            "markdown": f"{markdown_text(description)}\n\n**Remediation:** {markdown_text(remediation)}",
        },
        "defaultConfiguration": {"level": "warning" if kind == "warn" else "error"},
        "properties": {
            "tags": list(dict.fromkeys(("security", area))),
            "security-severity": SECURITY_SEVERITY.get(severity, SECURITY_SEVERITY["high"]),
            "severity": severity,
        },
    }


def _location(path: str, line: int, column: int, resource: str) -> dict[str, Any]:
    """GitHub rejects a startLine below 1, so positions are clamped rather than trusted."""
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": _artifact(path),
            "region": {"startLine": max(line, 1), "startColumn": max(column, 1)},
        }
    }
    if resource:
        location["logicalLocations"] = [{"fullyQualifiedName": resource, "kind": "element"}]
    return location


def _artifact(path: str) -> dict[str, str]:
    """Relative paths resolve against %SRCROOT% (the checkout); a path outside it becomes a file URI."""
    if PurePath(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def _identity(rule: str, path: str, resource: str) -> str:
    return "\0".join((rule, path, resource))


def _fingerprint(identity: str, occurrence: int) -> str:
    """Stable across runs and line moves; the occurrence tells apart findings that share rule and resource."""
    return f"{hashlib.sha256(identity.encode()).hexdigest()[:32]}:{occurrence}"
