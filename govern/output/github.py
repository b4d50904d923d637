"""GitHub Actions workflow commands, which turn each finding into an annotation on the manifest line, and the
job summary.

GitHub shows at most 10 error, 10 warning and 10 notice annotations per step and drops the rest without a
word, so the most severe are annotated first, and a last notice says how many more there are; those follow
as plain log lines, and the job summary (`$GITHUB_STEP_SUMMARY`) has every experiment.

Values are escaped as @actions/core escapes them: without it a newline in a message would end the
command early and let the rest of the line be read as a new command.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from govern.check.report import CheckReport, CheckResult
from govern.output._common import findings, markdown_text, repo_path, waiver_note

INPUT_RULE = "GOV-INPUT"
ANNOTATIONS_PER_KIND = 10
"""What GitHub shows of each of ::error, ::warning and ::notice per step."""
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
MAX_SUMMARY_ROWS = 1000
"""Experiments the job summary lists (GitHub caps a step's summary at 1 MiB); a last row counts the rest."""
_KINDS = ("error", "warning", "notice")
_SEVERITY_RANK = {"critical": 1, "high": 2, "medium": 3, "low": 4}
_OUTCOME_RANK = {"error": 0, "denied": 1, "warned": 2, "allowed": 3}


@dataclass(frozen=True)
class Annotation:
    command: str
    path: str
    line: int | None
    column: int | None
    title: str
    message: str
    severity: str
    rank: int
    """0 for a file that could not be checked, then the severity's rank: the order annotations are given in."""

    def render(self) -> str:
        """Positions are 1-based; a 0 from the producer would point at no line, so it is clamped to 1."""
        properties = {
            "file": self.path,
            "line": None if self.line is None else max(self.line, 1),
            "col": None if self.column is None else max(self.column, 1),
            "title": self.title,
        }
        rendered = ",".join(
            f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None
        )
        return f"::{self.command} {rendered}::{escape_data(self.message)}"

    def log_line(self) -> str:
        """The annotation as a plain log line (no command, so one line whatever the message holds)."""
        where = self.path + "".join(f":{max(n, 1)}" for n in (self.line, self.column) if n is not None)
        severity = f" [{self.severity}]" if self.severity else ""
        text = " ".join(self.message.replace("\r", "\n").split("\n"))
        return f"{self.command} {where} {self.title}{severity} {text}"


class GitHubFormatter:
    """Up to 10 annotations of each kind, most severe first; a notice and log lines for the rest; a summary line."""

    name = "github"

    def render(self, report: CheckReport) -> str:
        annotations = sorted(
            (a for result in report.results for a in _annotations(result, report.fail_on_warn)),
            key=lambda a: (_KINDS.index(a.command), a.rank),
        )
        shown, held = _within_limits(annotations)
        lines = [annotation.render() for annotation in shown]
        if held:
            lines.append(_overflow_notice(held))
            lines.extend(annotation.log_line() for annotation in held)
        lines.append(f"govern check: {_counts_line(report)}")
        return "\n".join(lines) + "\n"


def _within_limits(annotations: list[Annotation]) -> tuple[list[Annotation], list[Annotation]]:
    """The annotations GitHub will show and those it would drop; a notice slot is kept for the overflow notice."""
    per_kind = Counter(a.command for a in annotations)
    overflows = any(count > ANNOTATIONS_PER_KIND for count in per_kind.values())
    limits = {kind: ANNOTATIONS_PER_KIND for kind in _KINDS}
    if overflows or per_kind["notice"] > ANNOTATIONS_PER_KIND:
        limits["notice"] -= 1
    shown: list[Annotation] = []
    held: list[Annotation] = []
    taken: Counter[str] = Counter()
    for annotation in annotations:
        taken[annotation.command] += 1
        (shown if taken[annotation.command] <= limits[annotation.command] else held).append(annotation)
    return shown, held


def _overflow_notice(held: list[Annotation]) -> str:
    counts = Counter(a.command for a in held)
    parts = ", ".join(f"{counts[kind]} {kind}s" if counts[kind] != 1 else f"1 {kind}" for kind in _KINDS if counts[kind])
    message = (
        f"{len(held)} more findings are not annotated ({parts}): GitHub shows {ANNOTATIONS_PER_KIND} of each kind "
        "per step. They are listed in this step's log below and in the job summary."
    )
    return f"::notice title={escape_property('govern check')}::{escape_data(message)}"


def _annotations(result: CheckResult, fail_on_warn: bool) -> list[Annotation]:
    if result.error is not None:
        error_path = repo_path(result.error.source)
        return [
            Annotation("error", error_path, p.line, p.column, INPUT_RULE, _join(p.field, p.message), "", 0)
            for p in result.error.problems
        ]
    assert result.decision is not None
    path = repo_path(result.source)
    annotations = []
    for kind, finding in findings(result.decision):
        # With --fail-on-warn a warning fails the job, so it is annotated as the error it has become.
        command = {"deny": "error", "warn": "error" if fail_on_warn else "warning", "waived": "notice"}[kind]
        message = finding.message
        if kind == "waived":
            message += f"\n{waiver_note(finding)}"
        if finding.remediation:
            message += f"\n→ {finding.remediation}"
        line, column = result.location_of(finding.resource)
        rank = _SEVERITY_RANK.get(finding.severity, _SEVERITY_RANK["high"])
        annotations.append(Annotation(command, path, line, column, finding.rule, message, finding.severity, rank))
    return annotations


def step_summary(report: CheckReport) -> str:
    """The job summary: the counts, then one table row per experiment, the ones that failed first."""
    results = sorted(report.results, key=lambda r: _OUTCOME_RANK[r.status])
    lines = [
        "## govern check",
        "",
        _counts_line(report),
        "",
        "| outcome | experiment | file | rules |",
        "|---|---|---|---|",
    ]
    for result in results[:MAX_SUMMARY_ROWS]:
        cells = (result.status, result.name or "–", repo_path(result.source), _rules_cell(result))
        lines.append("| " + " | ".join(markdown_text(cell) for cell in cells) + " |")
    if len(results) > MAX_SUMMARY_ROWS:
        lines.append(f"| … | {len(results) - MAX_SUMMARY_ROWS} more | | the JSON or SARIF report has them all |")
    return "\n".join(lines) + "\n\n"


def append_step_summary(report: CheckReport, environ: Mapping[str, str]) -> Path | None:
    """Append the summary to the file `$GITHUB_STEP_SUMMARY` names (GitHub joins the steps' appends); None
    outside GitHub Actions, where nothing is written."""
    named = environ.get(SUMMARY_ENV)
    if not named:
        return None
    path = Path(named)
    with path.open("a", encoding="utf-8") as summary:
        summary.write(step_summary(report))
    return path


def _rules_cell(result: CheckResult) -> str:
    if result.error is not None:
        problems = result.error.problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return f"{INPUT_RULE}: {_join(problems[0].field, problems[0].message)}{more}"
    assert result.decision is not None
    fired: Counter[tuple[str, str, str]] = Counter()
    for kind, finding in findings(result.decision):
        waiver = str((finding.waiver or {}).get("id", "?")) if kind == "waived" else ""
        fired[(kind, finding.rule, waiver)] += 1
    parts = []
    for (kind, rule, waiver), count in fired.items():
        label = rule + (f" ×{count}" if count > 1 else "")
        label += {"deny": "", "warn": " (warning)", "waived": f" (waived: {waiver})"}[kind]
        parts.append(label)
    return ", ".join(parts)


def _counts_line(report: CheckReport) -> str:
    counts = report.counts()
    return (
        f"{len(report.results)} checked, {counts['allowed']} allowed, {counts['warned']} warned, "
        f"{counts['denied']} denied, {counts['error']} error; exit code {report.exit_code()}"
    )


def _join(field: str, message: str) -> str:
    return f"{field}: {message}" if field else message


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
