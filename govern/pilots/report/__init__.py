"""The pilot report: one page for the people who fund a pilot, in Markdown, HTML and PDF, one module per
format over the same sections (govern.pilots.report.sections), each figure linked to its records."""

from __future__ import annotations

from collections.abc import Callable

from govern.pilots.report import html, markdown, pdf
from govern.pilots.schema import PilotProgress

FORMATS: dict[str, tuple[str, Callable[[PilotProgress], bytes]]] = {
    "markdown": ("text/markdown; charset=utf-8", markdown.render),
    "html": ("text/html; charset=utf-8", html.render),
    "pdf": ("application/pdf", pdf.render),
}
"""Each format's media type and renderer."""
