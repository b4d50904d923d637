"""What several formats need alike: findings in one fixed order, paths as CI tools resolve them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from govern.errors import Problem
from govern.policy.decision import Decision, Finding

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def findings(decision: Decision) -> Iterator[tuple[str, Finding]]:
    """Each finding with its kind (`deny`, `warn`, `waived`), in the order `Decision.rule_ids` uses."""
    for kind, group in (("deny", decision.deny), ("warn", decision.warn), ("waived", decision.waived)):
        for finding in group:
            yield kind, finding


def repo_path(source: str) -> str:
    """The source as a forward-slash path relative to the working directory, where CI runs from the repo root."""
    path = Path(source)
    if path.is_absolute():
        with contextlib.suppress(ValueError):
            path = path.relative_to(Path.cwd())
    return path.as_posix()


def waiver_note(finding: Finding) -> str:
    """Who let a deny through and why, so a waived finding never reads like a silent pass."""
    waiver = finding.waiver or {}
    note = f"waiver {waiver.get('id', '?')} approved by {waiver.get('approver', '?')}"
    reason = waiver.get("reason")
    return f"{note}: {reason}" if reason else note


def problem_text(source: str, problem: Problem) -> str:
    """`file:line:col: field: message`, the form terminals and editors turn into a link."""
    where = source
    if problem.line is not None:
        where += f":{problem.line}" + (f":{problem.column}" if problem.column is not None else "")
    return ": ".join(part for part in (where, problem.field, problem.message) if part)


def markdown_text(value: str) -> str:
    """Policy text as literal Markdown: its punctuation escaped, its line breaks kept within one paragraph or
    table cell (GitHub renders `<br>` in both)."""
    return "<br>".join(_MARKDOWN_SPECIAL.sub(r"\\\1", line) for line in value.splitlines())
