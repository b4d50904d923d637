"""Output formats: one module per format behind one small interface, found through entry points.

Built-in formats register under the `govern.output` entry-point group in pyproject.toml, the same
extension point a plugin uses. A formatter only reads the report; it never changes it.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Protocol

from govern.check.report import CheckReport

ENTRY_POINT_GROUP = "govern.output"


class Formatter(Protocol):
    """Renders a finished report as text for one consumer (a person, a CI tool, a code scanner)."""

    name: str

    def render(self, report: CheckReport) -> str: ...


def available_formats() -> dict[str, type[Formatter]]:
    return {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}


def get_formatter(name: str) -> Formatter:
    formats = available_formats()
    if name not in formats:
        raise KeyError(f"unknown output format {name!r}; choose from {', '.join(sorted(formats))}")
    return formats[name]()
