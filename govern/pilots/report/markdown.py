"""The pilot report as Markdown: a table per section, verdicts in bold, records as links."""

from __future__ import annotations

from govern.pilots.report.sections import Line, build
from govern.pilots.schema import PilotProgress


def _cell(text: str) -> str:
    """Text that cannot break out of its table cell (a submitter wrote some of it)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _records(line: Line) -> str:
    links = ", ".join(f"[{link.text}]({link.href})" for link in line.links)
    return links + (f" and {line.more} more" if line.more else "")


def render(progress: PilotProgress) -> bytes:
    report = build(progress)
    out = [f"# {_cell(report.title)}", "", f"**Objective:** {_cell(report.objective)}", "", f"**Overall:** {_cell(report.overall)}", ""]
    for section in report.sections:
        if not section.lines:
            continue
        out += [f"## {section.heading}", "", "| | Measured | Verdict | Records |", "|---|---|---|---|"]
        out += [f"| {_cell(line.label)} | {_cell(line.value)} | {f'**{line.verdict}**' if line.verdict else ''} | {_records(line)} |"
                for line in section.lines]
        out.append("")
    out.append(f"_{_cell(report.footnote)}_")
    return ("\n".join(out) + "\n").encode("utf-8")
