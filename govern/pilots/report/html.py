"""The pilot report as a standalone HTML page, through a jinja2 template with autoescaping on (objectives,
criteria and waiver reasons are people's text and may hold markup)."""

from __future__ import annotations

import functools

import jinja2

from govern.pilots.report.sections import build
from govern.pilots.schema import PilotProgress


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("govern.pilots.report", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def render(progress: PilotProgress) -> bytes:
    return _environment().get_template("report.html.j2").render(r=build(progress)).encode("utf-8")
