"""The report for a terminal: the counts, the rules that flip, who is affected, and the changed decisions."""

from __future__ import annotations

from govern.impact.analysis import ImpactReport
from govern.impact.formats.summary import flips_first, window_text

SHOWN = 50


def render(report: ImpactReport) -> str:
    lines = [
        f"impact of bundle {report.candidate_manifest_revision or '(no revision)'} ({report.candidate_revision})",
        f"window: {window_text(report.window)}",
        f"replayed {report.replayed}, changed {report.changed}: {report.allow_to_deny} allow -> deny, {report.deny_to_allow} deny -> allow",
    ]
    if report.engine_failures:
        lines.append(f"the candidate failed to evaluate {report.engine_failures} decisions (each denied, fail closed)")
    if report.unreadable:
        lines.append(f"{report.unreadable} records could not be read and were not replayed")
    for title, counts in (("rules added", report.rules_added), ("rules removed", report.rules_removed),
                          ("teams affected", report.teams), ("sandboxes affected", report.sandboxes)):
        if counts:
            lines.append(f"{title}: " + ", ".join(f"{name or '(none)'} {n}" for name, n in counts.items()))
    shown = flips_first(report)[:SHOWN]
    if shown:
        lines.append("changed decisions:")
    for item in shown:
        rules = " ".join([*(f"+{r}" for r in item.rules_added), *(f"-{r}" for r in item.rules_removed)])
        lines.append(f"  {item.decision_id} (record {item.seq}, {item.team or '-'}/{item.sandbox or '-'}): "
                     f"{item.recorded_outcome} -> {item.new_outcome} {rules}".rstrip())
    if report.changed > len(shown):
        lines.append(f"  ... {report.changed - len(shown)} more changed decisions (the JSON report lists {len(report.changed_decisions)}, outcome changes first)")
    return "\n".join(lines) + "\n"
