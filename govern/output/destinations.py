"""Where each output format of one `govern check` goes: `--format`/`--output` pairs, so one run gives CI its
annotations on stdout and its SARIF and JUnit in files, from the same decisions."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from govern.check.report import CheckReport
from govern.output import Formatter, get_formatter
from govern.output.github import GitHubFormatter, append_step_summary
from govern.output.text import TextFormatter

STDOUT = Path("-")


class OutputsError(ValueError):
    """The --format/--output pairs cannot be honoured; the message says why and how to fix it."""


@dataclass(frozen=True)
class Destination:
    formatter: Formatter
    path: Path | None
    """None: stdout."""


def destinations(formats: list[str], outputs: list[Path], terminal_columns: int | None = None) -> list[Destination]:
    """One format writes to stdout, or to its --output; several need one --output each, in order (`-` for
    stdout, at most once). `terminal_columns` (stdout is a terminal) gives the text format colour and width."""
    formats = formats or ["text"]
    if len(formats) == 1 and len(outputs) <= 1:
        paired = [outputs[0] if outputs else STDOUT]
    elif len(outputs) == len(formats):
        paired = list(outputs)
    else:
        raise OutputsError(
            f"{len(formats)} --format and {len(outputs)} --output: give one --output per --format when there are "
            "several (- for stdout), e.g. --format github --output - --format sarif --output govern.sarif"
        )
    if paired.count(STDOUT) > 1:
        raise OutputsError("only one --format can write to stdout (--output -); give the others a file")
    files = [path for path in paired if path != STDOUT]
    for path in files:
        if files.count(path) > 1:
            raise OutputsError(f"--output {path} is given twice; each format needs a file of its own")
        if not path.parent.is_dir():
            raise OutputsError(f"--output {path}: the folder {path.parent} does not exist")
    chosen = []
    for name, path in zip(formats, paired, strict=True):
        try:
            formatter = get_formatter(name)
        except KeyError as exc:
            raise OutputsError(str(exc.args[0])) from None
        to_stdout = path == STDOUT
        if isinstance(formatter, TextFormatter) and to_stdout and terminal_columns is not None:
            formatter = TextFormatter(color=True, width=terminal_columns)
        chosen.append(Destination(formatter, None if to_stdout else path))
    return chosen


def write(report: CheckReport, chosen: list[Destination], environ: Mapping[str, str]) -> None:
    """Render each format once and write it; with the github format, also append the job summary to the file
    `$GITHUB_STEP_SUMMARY` names in `environ`. OSError when a file cannot be written."""
    for destination in chosen:
        rendered = destination.formatter.render(report)
        if destination.path is None:
            sys.stdout.write(rendered if rendered.endswith("\n") else rendered + "\n")
        else:
            destination.path.write_text(rendered, encoding="utf-8")
    if any(isinstance(destination.formatter, GitHubFormatter) for destination in chosen):
        append_step_summary(report, environ)
