"""METADATA annotations, read from the Rego source: they are the rule catalogue.

Neither embedded engine implements `rego.metadata.*`, so govern parses OPA's annotation format itself: a
comment block whose first line is `# METADATA`, every line starting at column 1, holding YAML, directly
above the package or rule it describes. A deny or warn rule's `custom` block gives its rule id, severity,
waivability and remediation; `govern policy list`, SARIF rule metadata and the enrichment of every decision
all come from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from govern.errors import InputError
from govern.manifest.documents import parse_documents
from govern.policy.problems import BundleProblem

OPA_ATTRIBUTES = frozenset(
    {"scope", "title", "description", "related_resources", "authors", "organizations", "schemas", "entrypoint", "custom"}
)
SEVERITIES = ("critical", "high", "medium", "low")
FINDING_RULES = ("deny", "warn")
CUSTOM_ROOT = "govern.custom"
CUSTOM_DEFAULTS = {"area": "custom", "severity": "high", "waivable": True, "remediation": "See the team policy that reported it."}
"""What a team's finding gets where its METADATA says nothing."""

_RULE_HEAD = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)")
_PACKAGE = re.compile(r"^package\s+([\w.]+)")


@dataclass(frozen=True)
class Annotation:
    """One METADATA block and the statement under it (`package` or a rule name)."""

    path: str
    line: int
    package: str
    target: str
    target_line: int
    attributes: dict[str, Any] = field(repr=False)

    @property
    def custom(self) -> dict[str, Any]:
        value = self.attributes.get("custom")
        return value if isinstance(value, dict) else {}

    @property
    def is_finding_rule(self) -> bool:
        return self.target in FINDING_RULES

    @property
    def is_custom(self) -> bool:
        return self.package == CUSTOM_ROOT or self.package.startswith(CUSTOM_ROOT + ".")


def package_rule_id(package: str) -> str:
    """The id a team policy's plain-string finding gets: its package path under `govern.custom`."""
    return package[len(CUSTOM_ROOT) + 1 :] if package.startswith(CUSTOM_ROOT + ".") else package


def parse_annotations(path: str, source: str) -> tuple[list[Annotation], list[BundleProblem]]:
    """Every METADATA block of one module, with what it annotates; YAML that does not parse is a problem."""
    lines = source.splitlines()
    package = next((m.group(1) for line in lines if (m := _PACKAGE.match(line))), "")
    annotations: list[Annotation] = []
    problems: list[BundleProblem] = []
    index = 0
    while index < len(lines):
        if lines[index].rstrip() != "# METADATA":
            index += 1
            continue
        start = index
        index += 1
        body = []
        while index < len(lines) and lines[index].startswith("#"):
            body.append(lines[index][1:])
            index += 1
        attributes, problem = _parse_yaml(body)
        if problem:
            problems.append(BundleProblem(path, start + 1, f"METADATA is not valid YAML: {problem}"))
            continue
        target_line = index + 1
        statement = lines[index] if index < len(lines) else ""
        target = "package" if _PACKAGE.match(statement) else (m.group(1) if (m := _RULE_HEAD.match(statement)) else "")
        if not target:
            problems.append(BundleProblem(path, start + 1, "METADATA must sit directly above a package or a rule"))
            continue
        unknown = sorted(set(attributes) - OPA_ATTRIBUTES)
        if unknown:
            problems.append(
                BundleProblem(
                    path, start + 1, f"unknown METADATA attribute(s) {', '.join(unknown)}: put them under 'custom'", fatal=False
                )
            )
        annotations.append(Annotation(path, start + 1, package, target, target_line, attributes))
    return annotations, problems


def _parse_yaml(body: list[str]) -> tuple[dict[str, Any], str]:
    """The block's YAML through the project's manifest reader: duplicate keys and aliases are refused there too."""
    try:
        documents = parse_documents("\n".join(body), "METADATA")
    except InputError as exc:
        problem = exc.problems[0]
        return {}, (f"line {problem.line} of the block: " if problem.line else "") + problem.message
    if not documents or documents[0].data is None:
        return {}, ""
    if len(documents) > 1 or not isinstance(documents[0].data, dict):
        return {}, "expected one mapping of attributes"
    return documents[0].data, ""


@dataclass(frozen=True)
class RuleCatalogue:
    """Rule id → its entry (area, kind, severity, title, description, remediation, waivable), with problems."""

    entries: dict[str, dict[str, Any]]
    problems: tuple[BundleProblem, ...]
    annotations: tuple[Annotation, ...]

    def finding_rule_lines(self) -> dict[tuple[str, int], str]:
        """(module path, line of the rule head) → the rule id its annotation declares."""
        return {(a.path, a.target_line): str(a.custom.get("id", "")) for a in self.annotations if a.is_finding_rule}


def build_catalogue(modules: Iterable[tuple[str, str]]) -> RuleCatalogue:
    """The catalogue of every non-test module (path, source); problems say what `govern policy check` refuses."""
    annotations: list[Annotation] = []
    problems: list[BundleProblem] = []
    for path, source in modules:
        found, trouble = parse_annotations(path, source)
        annotations.extend(found)
        problems.extend(trouble)
    entries: dict[str, dict[str, Any]] = {}
    origin: dict[str, Annotation] = {}
    for annotation in annotations:
        if not annotation.is_finding_rule:
            continue
        rule_id, entry, trouble = _entry(annotation)
        problems.extend(trouble)
        if not rule_id:
            continue
        if rule_id in entries and entries[rule_id] != entry:
            first = origin[rule_id]
            problems.append(
                BundleProblem(
                    annotation.path, annotation.line, f"rule {rule_id} is annotated differently at {first.path}:{first.line}"
                )
            )
            continue
        entries.setdefault(rule_id, entry)
        origin.setdefault(rule_id, annotation)
    return RuleCatalogue(entries, tuple(problems), tuple(annotations))


def _entry(annotation: Annotation) -> tuple[str, dict[str, Any], list[BundleProblem]]:
    """The catalogue entry one deny/warn annotation declares; a team's rule may leave everything out."""
    custom = annotation.custom
    problems = []
    defaults = CUSTOM_DEFAULTS if annotation.is_custom else {}
    rule_id = custom.get("id", package_rule_id(annotation.package) if annotation.is_custom else None)
    entry = {
        "area": defaults.get("area") or annotation.package.rpartition(".")[2],
        "kind": annotation.target,
        "severity": custom.get("severity", defaults.get("severity")),
        "title": annotation.attributes.get("title", ""),
        "description": annotation.attributes.get("description", ""),
        "remediation": custom.get("remediation", defaults.get("remediation")),
        "waivable": custom.get("waivable", defaults.get("waivable")),
    }
    where = (annotation.path, annotation.line)
    if not isinstance(rule_id, str) or not rule_id:
        problems.append(BundleProblem(*where, f"the {annotation.target} rule's METADATA needs custom.id (the rule id)"))
        return "", entry, problems
    if entry["severity"] not in SEVERITIES:
        problems.append(BundleProblem(*where, f"rule {rule_id}: custom.severity must be one of {', '.join(SEVERITIES)}"))
    if not isinstance(entry["waivable"], bool):
        problems.append(BundleProblem(*where, f"rule {rule_id}: custom.waivable must be true or false"))
    if not isinstance(entry["remediation"], str):
        problems.append(BundleProblem(*where, f"rule {rule_id}: custom.remediation must be text"))
    for text in ("title", "description"):
        if not isinstance(entry[text], str):
            problems.append(BundleProblem(*where, f"rule {rule_id}: {text} must be text"))
    if not annotation.is_custom and not entry["title"]:
        problems.append(BundleProblem(*where, f"rule {rule_id}: METADATA needs a title"))
    return rule_id, entry, problems
