"""GitHub Actions workflow commands, which turn each finding into an annotation on the manifest line.

Values are escaped as @actions/core escapes them: without it a newline in a message would end the
command early and let the rest of the line be read as a new command.
"""

from __future__ import annotations

from govern.check.report import CheckReport, CheckResult
from govern.output._common import findings, repo_path, waiver_note

INPUT_RULE = "GOV-INPUT"


class GitHubFormatter:
    """One `::error`/`::warning`/`::notice` line per finding or input problem, then a plain summary line."""

    name = "github"

    def render(self, report: CheckReport) -> str:
        lines = [line for result in report.results for line in _commands(result, report.fail_on_warn)]
        counts = report.counts()
        lines.append(
            f"govern check: {len(report.results)} checked, {counts['allowed']} allowed, {counts['warned']} warned, "
            f"{counts['denied']} denied, {counts['error']} error; exit code {report.exit_code()}"
        )
        return "\n".join(lines) + "\n"


def _commands(result: CheckResult, fail_on_warn: bool) -> list[str]:
    path = repo_path(result.source)
    if result.error is not None:
        error_path = repo_path(result.error.source)
        return [
            _command("error", error_path, problem.line, problem.column, INPUT_RULE, _join(problem.field, problem.message))
            for problem in result.error.problems
        ]
    assert result.decision is not None
    commands = []
    for kind, finding in findings(result.decision):
        # With --fail-on-warn a warning fails the job, so it is annotated as the error it has become.
        command = {"deny": "error", "warn": "error" if fail_on_warn else "warning", "waived": "notice"}[kind]
        message = finding.message
        if kind == "waived":
            message += f"\n{waiver_note(finding)}"
        if finding.remediation:
            message += f"\n→ {finding.remediation}"
        line, column = result.location_of(finding.resource)
        commands.append(_command(command, path, line, column, finding.rule, message))
    return commands


def _command(command: str, path: str, line: int | None, column: int | None, title: str, message: str) -> str:
    """Positions are 1-based; a 0 from the producer would point at no line, so it is clamped to 1."""
    properties = {
        "file": path,
        "line": None if line is None else max(line, 1),
        "col": None if column is None else max(column, 1),
        "title": title,
    }
    rendered = ",".join(
        f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None
    )
    return f"::{command} {rendered}::{escape_data(message)}"


def _join(field: str, message: str) -> str:
    return f"{field}: {message}" if field else message


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
