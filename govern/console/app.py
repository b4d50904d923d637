"""Installs the console into the service: its pages under `/ui`, its static files (from the package), its
security headers, and what it keeps per process (templates, the menus the policy allowed)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from govern.console.headers import ConsoleHeaders
from govern.console.routes import (
    audit,
    decisions,
    kpis,
    lineage,
    login,
    pilot_amendments,
    pilots,
    sandboxes,
    submissions,
    vendors,
    waivers,
)
from govern.console.templating import templates

PAGES = (login, decisions, submissions, lineage, sandboxes, pilot_amendments, pilots, vendors, waivers, audit, kpis)


def install_console(app: FastAPI) -> None:
    app.state.console_templates = templates()
    app.state.console_menus = {}
    app.mount("/ui/static", StaticFiles(packages=[("govern.console", "static")]), name="console-static")
    for pages in PAGES:
        app.include_router(pages.router, include_in_schema=False)
    app.add_middleware(ConsoleHeaders)
