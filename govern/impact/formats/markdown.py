"""The report as a pull-request comment (GitHub-flavoured Markdown): a summary table, a table per rule, and
the changed decisions, at most ROWS of them, each linking to its record in the service."""

from __future__ import annotations

from govern.impact.analysis import ImpactReport
from govern.impact.formats.summary import flips_first, window_text

ROWS = 50


def render(report: ImpactReport) -> str:
    verdict = "changes no recorded decision" if not report.changed else f"changes **{report.changed}** recorded decisions"
    lines = [
        "### Policy impact",
        "",
        f"Bundle `{_cell(report.candidate_manifest_revision or '(no revision)')}` ({_code(report.candidate_revision)}) {verdict} "
        f"(window: {_cell(window_text(report.window))}).",
        "",
        "| replayed | changed | allow → deny | deny → allow | engine failures |",
        "|---:|---:|---:|---:|---:|",
        f"| {report.replayed} | {report.changed} | {report.allow_to_deny} | {report.deny_to_allow} | {report.engine_failures} |",
    ]
    rules = sorted(set(report.rules_added) | set(report.rules_removed))
    if rules:
        lines += ["", "| rule | now fires | no longer fires |", "|---|---:|---:|"]
        lines += [f"| {_code(r)} | {report.rules_added.get(r, 0)} | {report.rules_removed.get(r, 0)} |" for r in rules]
    if report.teams or report.sandboxes:
        lines += ["", f"Teams affected: {_names(report.teams)}. Sandboxes affected: {_names(report.sandboxes)}."]
    shown = flips_first(report)[:ROWS]
    if shown:
        lines += ["", "| decision | team | sandbox | recorded → now | rules |", "|---|---|---|---|---|"]
    for item in shown:
        rules_cell = " ".join([*(f"+{_code(r)}" for r in item.rules_added), *(f"−{_code(r)}" for r in item.rules_removed)])
        target = f"[{_cell(item.decision_id)}]({item.link})" if item.link else _cell(item.decision_id)
        lines.append(f"| {target} | {_cell(item.team)} | {_cell(item.sandbox)} | {item.recorded_outcome} → {item.new_outcome} | {rules_cell} |")
    if report.changed > len(shown):
        lines += ["", f"_{report.changed - len(shown)} more changed decisions not shown; the JSON report lists {len(report.changed_decisions)} of them, outcome changes first._"]
    return "\n".join(lines) + "\n"


def _names(counts: dict[str, int]) -> str:
    return ", ".join(f"{_code(name or '(none)')} ({n})" for name, n in counts.items()) or "none"


def _cell(text: str) -> str:
    """Text safe in a table cell: no pipe, newline, or Markdown/HTML markup from recorded values."""
    return "".join("\\" + ch if ch in "|*_`[]<>#\\" else (" " if ch in "\r\n" else ch) for ch in text)


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"
