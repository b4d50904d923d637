"""The console's Jinja2 environment, built once per app (`templates()`), autoescaping every page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape


def templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("govern.console", "templates"), autoescape=select_autoescape(default=True),
        trim_blocks=True, lstrip_blocks=True,
    )
    environment.filters["when"] = when
    return environment


def when(moment: datetime | str | None) -> str:
    """A time as the console shows it: UTC, to the second, ISO 8601."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        moment = parsed
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page `name` with `context`, and what every page needs: who is signed in, their CSRF token, the menu."""
    environment: Environment = request.app.state.console_templates
    signed_in = getattr(request.state, "console_user", None)
    page = environment.get_template(name).render(
        request=request, status_code=status_code, user=signed_in, csrf_token=signed_in.csrf_token if signed_in else "",
        menu=getattr(request.state, "console_menu", ()), **context,
    )
    return HTMLResponse(page, status_code)
