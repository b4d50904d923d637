"""What every console route depends on: the signed-in session (else a redirect to sign in), the menu the
authorization policy allows it, and forms checked for their CSRF token; and the route class that turns a
refusal into an HTML page with the same status instead of the API's JSON."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from starlette.datastructures import ImmutableMultiDict

from govern.api.deps import authorization, refuse_until_ready
from govern.audit.checkpoint import CheckpointError, load_private_key
from govern.console.sessions import COOKIE, SignedIn, resume
from govern.console.templating import render
from govern.db.public import TokenPublic
from govern.policy.engines import PolicyEngine
from govern.records.errors import RecordError
from govern.settings import Settings

MAX_FORM_BYTES = 65_536
MAX_FORM_FIELDS = 160
"""Room for the pilot terms fieldset at its 20 criterion rows (6 fields each) beside the request form's own."""
LOGIN_PATH = "/ui/login"


@dataclass(frozen=True)
class MenuItem:
    label: str
    path: str
    permission: str


MENU = (
    MenuItem("Decisions", "/ui/decisions", "decision.read"),
    MenuItem("Submissions", "/ui/submissions", "submission.read"),
    MenuItem("Lineage", "/ui/lineage", "lineage.read"),
    MenuItem("Sandboxes", "/ui/sandboxes", "sandbox.read"),
    MenuItem("Vendors", "/ui/vendors", "sandbox.read"),
    MenuItem("Waivers", "/ui/waivers", "waiver.read"),
    MenuItem("Audit", "/ui/audit", "audit.read"),
    MenuItem("KPIs", "/ui/kpis", "kpi.read"),
)


class SignInRequired(Exception):
    """No live session: the browser is sent to sign in, and back here afterwards."""


def menu_for(request: Request, token: TokenPublic) -> tuple[MenuItem, ...]:
    """The pages the policy lets the token open (for its own team at least), asked once per role, team and
    bundle revision in each process."""
    engine: PolicyEngine = request.app.state.engine
    known: dict[tuple[str, str, str], tuple[MenuItem, ...]] = request.app.state.console_menus
    key = (engine.bundle_revision, token.role.value, token.team)
    if key not in known:
        if len(known) > 1000:
            known.clear()
        known[key] = tuple(item for item in MENU if authorization(engine, token, item.permission, {"team": token.team}).allow)
    return known[key]


def signing_key_or_reason(settings: Settings) -> Ed25519PrivateKey | str:
    """The audit signing key, read per request as the API reads it; or why the service has none to sign with."""
    if settings.audit_signing_key is None:
        return "This service has no GOVERN_AUDIT_SIGNING_KEY, so it signs no checkpoints"
    try:
        return load_private_key(settings.audit_signing_key)
    except CheckpointError:
        return "This service cannot read its GOVERN_AUDIT_SIGNING_KEY, so it signs no checkpoints"


def now() -> datetime:
    return datetime.now(UTC)


async def get_signed_in(request: Request) -> SignedIn:
    await refuse_until_ready(request)
    cookie = request.cookies.get(COOKIE, "")
    signed_in = await run_in_threadpool(_resume, request, cookie) if cookie else None
    if signed_in is None:
        raise SignInRequired
    request.state.console_user = signed_in
    request.state.console_menu = menu_for(request, signed_in.token)
    return signed_in


def _resume(request: Request, cookie: str) -> SignedIn | None:
    with Session(request.app.state.db) as session:
        signed_in = resume(session, cookie, now(), request.app.state.settings.console_idle_s)
        session.commit()
        return signed_in


SignedInDep = Annotated[SignedIn, Depends(get_signed_in)]


async def read_form(request: Request) -> ImmutableMultiDict[str, str]:
    """An urlencoded form, bounded in bytes and fields (the stdlib's parser: the console posts nothing else,
    so no multipart parser is needed); a 4xx for anything else."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "the console's forms are sent as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"the form is over {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"the form is not UTF-8 urlencoded text of at most {MAX_FORM_FIELDS} fields") from None
    return ImmutableMultiDict(pairs)


def same_token(sent: str | None, expected: str) -> bool:
    return bool(sent) and bool(expected) and hmac.compare_digest(str(sent).encode(), expected.encode())


async def checked_form(request: Request, signed_in: SignedInDep) -> ImmutableMultiDict[str, str]:
    """The form of a state-changing request, once its CSRF token (field `csrf_token`, or the `X-CSRF-Token`
    header of a script's request) matches the session's; 403 otherwise."""
    form = await read_form(request) if request.headers.get("content-type") else ImmutableMultiDict()
    if not same_token(form.get("csrf_token") or request.headers.get("x-csrf-token"), signed_in.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the request's CSRF token is missing or stale: reload the page and try again")
    return form


CheckedFormDep = Annotated[ImmutableMultiDict[str, str], Depends(checked_form)]


def field(form: ImmutableMultiDict[str, str], name: str, *, max_length: int = 1000, required: bool = True) -> str:
    """A form field, stripped and bounded; a 422 naming it when it is missing or too long."""
    value = form.get(name, "").strip()
    if required and not value:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the field '{name}' is required")
    if len(value) > max_length:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the field '{name}' is longer than {max_length} characters")
    return value


class ConsoleRoute(APIRoute):
    """A refusal is a page: sign-in redirects, HTTP and record errors and invalid parameters render the
    error page with their status; an unreachable database is a 503 page."""

    def signed_out(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status.HTTP_303_SEE_OTHER)

    def refused(self, request: Request, status_code: int, message: Any) -> Response:
        return render(request, "error.html", status_code, message=message)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except SignInRequired:
                return self.signed_out(request)
            except HTTPException as exc:
                return self.refused(request, exc.status_code, exc.detail)
            except RecordError as exc:
                return self.refused(request, exc.status, str(exc))
            except RequestValidationError as exc:
                return self.refused(request, status.HTTP_422_UNPROCESSABLE_CONTENT, _invalid(exc))
            except OperationalError:
                return self.refused(request, status.HTTP_503_SERVICE_UNAVAILABLE, "the database is unavailable; nothing was recorded")

        return handler


class ConsoleJsonRoute(ConsoleRoute):
    """A page's script asking for data: the same refusals, as JSON `{"detail": ...}` with their status, and a
    session that has ended is a 401 (a redirect to sign in would be followed by `fetch` and read as data)."""

    def signed_out(self, request: Request) -> Response:
        return JSONResponse({"detail": "the session has ended: sign in again"}, status.HTTP_401_UNAUTHORIZED)

    def refused(self, request: Request, status_code: int, message: Any) -> Response:
        return JSONResponse({"detail": message}, status_code)


def _invalid(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "request"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)
