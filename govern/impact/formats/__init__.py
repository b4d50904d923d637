"""Impact report formats, one module each (as govern/output/ has for checks): text for people, JSON for
pipelines, Markdown for a pull-request comment. A formatter only reads the report; it never changes it."""

from __future__ import annotations

from collections.abc import Callable

from govern.impact.analysis import ImpactReport
from govern.impact.formats import json, markdown, text

FORMATS: dict[str, Callable[[ImpactReport], str]] = {"text": text.render, "json": json.render, "markdown": markdown.render}
