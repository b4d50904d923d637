"""Signing in and out: `/ui/login` takes an API token in the form field `token` and opens a session; the
token itself is never put in a page or a cookie. The sign-in form has no session yet, so its CSRF token is
a double-submit cookie (SameSite=Strict, HttpOnly) that the form must repeat."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from govern.console.deps import (
    LOGIN_PATH,
    CheckedFormDep,
    ConsoleRoute,
    SignedInDep,
    field,
    menu_for,
    now,
    read_form,
    same_token,
)
from govern.console.sessions import COOKIE, SignedIn, close_session, open_session
from govern.console.templating import render
from govern.records.tokens import authenticate

router = APIRouter(route_class=ConsoleRoute)

LOGIN_COOKIE = "govern_console_login"
HOME = "/ui/decisions"


def _safe_next(target: str | None) -> str:
    """Only a console path of this origin: never another host, scheme or a protocol-relative URL."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target and len(target) <= 2000:
        return target
    return HOME


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(request: Request, next_path: str, status_code: int = 200, message: str = "") -> Response:
    csrf = secrets.token_urlsafe(32)
    page = render(request, "login.html", status_code, login_csrf=csrf, next_path=next_path, message=message)
    page.set_cookie(LOGIN_COOKIE, csrf, max_age=3600, path=LOGIN_PATH, httponly=True, samesite="strict", secure=_secure(request))
    return page


@router.get("/ui", include_in_schema=False)
@router.get("/ui/", include_in_schema=False)
async def console_home() -> RedirectResponse:
    return RedirectResponse(HOME, status.HTTP_303_SEE_OTHER)


@router.get("/ui/login", include_in_schema=False)
async def login_form(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    return _login_page(request, _safe_next(next))


@router.post("/ui/login", include_in_schema=False)
async def login(request: Request) -> Response:
    form = await read_form(request)
    next_path = _safe_next(form.get("next"))
    if not same_token(form.get("csrf_token"), request.cookies.get(LOGIN_COOKIE, "")):
        return _login_page(request, next_path, status.HTTP_403_FORBIDDEN, "The sign-in form expired: please try again.")
    secret = field(form, "token", max_length=200)
    opened = await run_in_threadpool(_open, request, secret)
    if opened is None:
        return _login_page(request, next_path, status.HTTP_401_UNAUTHORIZED, "Unknown or revoked token.")
    session_id, signed_in = opened
    if not menu_for(request, signed_in.token):
        await run_in_threadpool(_close, request, signed_in.id_hash)
        return _login_page(request, next_path, status.HTTP_403_FORBIDDEN,
                           f"A {signed_in.token.role.value} token has nothing to open in the console.")
    answer = RedirectResponse(next_path, status.HTTP_303_SEE_OTHER)
    answer.set_cookie(COOKIE, session_id, path="/ui", httponly=True, samesite="strict", secure=_secure(request),
                      max_age=request.app.state.settings.console_session_s)
    answer.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return answer


def _open(request: Request, secret: str) -> tuple[str, SignedIn] | None:
    with Session(request.app.state.db) as session:
        token = authenticate(session, secret)
        if token is None:
            return None
        opened = open_session(session, token, now(), request.app.state.settings.console_session_s)
        session.commit()
        return opened


def _close(request: Request, id_hash: str) -> None:
    with Session(request.app.state.db) as session:
        close_session(session, id_hash)
        session.commit()


@router.post("/ui/logout", include_in_schema=False)
async def logout(request: Request, signed_in: SignedInDep, _: CheckedFormDep) -> Response:
    await run_in_threadpool(_close, request, signed_in.id_hash)
    answer = RedirectResponse(LOGIN_PATH, status.HTTP_303_SEE_OTHER)
    answer.delete_cookie(COOKIE, path="/ui")
    return answer
