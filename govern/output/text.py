"""The format for people: what was decided about each file, why, and what to do about it."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from govern.check.report import CheckReport, CheckResult
from govern.output._common import findings, problem_text, waiver_note

STATUS_STYLES = {"allowed": "bold green", "warned": "bold yellow", "denied": "bold red", "error": "bold magenta"}
MARKERS = {"deny": ("✗", "red"), "warn": ("!", "yellow"), "waived": ("~", "cyan")}
SHORT_DECISION_ID = 8
SHORT_REVISION = 12


class TextFormatter:
    """Renders with rich into a string; plain text unless colour is asked for, so logs stay free of ANSI."""

    name = "text"

    def __init__(self, color: bool = False, width: int = 100):
        self.color = color
        self.width = width

    def render(self, report: CheckReport) -> str:
        out = io.StringIO()
        console = Console(
            file=out,
            width=self.width,
            force_terminal=self.color,
            force_jupyter=False,
            color_system="standard" if self.color else None,
            highlight=False,
            markup=False,
            emoji=False,
        )
        for result in report.results:
            console.print(_header(result))
            console.print(Padding(_details(result), (0, 0, 0, 2)))
        console.print()
        console.print(_summary(report))
        # rich pads table cells to the full width; trailing blanks are noise in logs and diffs
        return "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())


def _header(result: CheckResult) -> Text:
    label = result.status.upper().ljust(7)
    header = Text.assemble((label, STATUS_STYLES[result.status]), " ", result.source)
    if result.name:
        header.append(f" ({result.name})")
    return header


def _details(result: CheckResult) -> RenderableType:
    """One row per finding or problem; a grid keeps wrapped lines under the text, not under the marker."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    if result.error is not None:
        for problem in result.error.problems:
            grid.add_row(Text("✗", style="red"), Text(problem_text(result.error.source, problem)))
        return grid
    assert result.decision is not None
    for kind, finding in findings(result.decision):
        marker, style = MARKERS[kind]
        body = Text.assemble((finding.rule, "bold"), f" [{finding.severity}] ", finding.message)
        if kind == "waived":
            body.append(f"\n{waiver_note(finding)}", style="cyan")
        if finding.remediation:
            body.append(f"\n→ {finding.remediation}", style="dim")
        line, column = result.location_of(finding.resource)
        at = f"\nat {result.source}:{line}:{column}"
        body.append(at + (f" ({finding.resource})" if finding.resource else ""), style="dim")
        grid.add_row(Text(marker, style=style), body)
    return grid


def _summary(report: CheckReport) -> Table:
    counts = report.counts()
    caption = (
        f"{len(report.results)} checked: {counts['allowed']} allowed, {counts['warned']} warned, "
        f"{counts['denied']} denied, {counts['error']} error; exit code {report.exit_code()}"
    )
    if report.fail_on_warn:
        caption += " (warnings fail the check)"
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title=Text("Summary", style="bold"),
        title_justify="left",
        caption=Text(caption),
        caption_justify="left",
    )
    for column in ("Status", "File", "Experiment", "Decision", "Bundle"):
        table.add_column(column, overflow="fold")
    for result in report.results:
        decision = result.decision
        table.add_row(
            Text(result.status, style=STATUS_STYLES[result.status]),
            Text(result.source),
            Text(result.name or "-"),
            Text(decision.decision_id[:SHORT_DECISION_ID] if decision else "-"),
            Text(decision.bundle_revision.removeprefix("sha256:")[:SHORT_REVISION] if decision else "-"),
        )
    return table
