"""Input errors: bad input is the user's to fix, so each error names the file, the field and the position."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    message: str
    field: str = ""
    line: int | None = None
    column: int | None = None

    def where(self) -> str:
        """`line:col: field`, as much of it as is known."""
        position = f"{self.line}:{self.column}" if self.line is not None else ""
        return ": ".join(part for part in (position, self.field) if part)


class InputError(Exception):
    """The input cannot be checked: exit code 2, or HTTP 4xx from the service."""

    exit_code = 2

    def __init__(self, source: str, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.source = source
        self.problems = tuple(problems)
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = []
        for problem in self.problems:
            location = f"{self.source}:{problem.where()}" if problem.where() else self.source
            lines.append(f"{location}: {problem.message}")
        return "\n".join(lines)
