"""`/ui/waivers`: waivers newest first with their state and expiry (expired ones marked), filtered by team and
state; the request form, which offers only the bundle's waivable rules; approve and revoke, with separation
of duties shown (the policy's reason on a disabled button), all through the API's own functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import ImmutableMultiDict

from govern.api.deps import ReadSessionDep, SessionDep, authorization, listed_team
from govern.api.params import Moment
from govern.api.routes.audit import ActorNames
from govern.api.routes.waivers import decide_waiver, file_waiver
from govern.console.deps import CheckedFormDep, ConsoleRoute, SignedInDep, field, now
from govern.console.params import Blank, PageSize, TeamQuery
from govern.console.templating import render
from govern.db.public import TokenPublic, WaiverPublic, WaiverRequest
from govern.policy.engines import PolicyEngine
from govern.records.waivers import WaiverState, state_of, waiver_page

router = APIRouter(prefix="/ui/waivers", route_class=ConsoleRoute)

WAIVER_ID = r"^WVR-[0-9a-f]{12}$"
WaiverId = Annotated[str, Path(pattern=WAIVER_ID)]
StateQuery = Annotated[WaiverState | None, Blank, Query()]
WaiverCursor = Annotated[str | None, Blank, Query(pattern=WAIVER_ID)]
EXPIRY: TypeAdapter[datetime] = TypeAdapter(Moment)
DONE = {"requested": "Waiver requested: compliance approves it.", "approved": "Waiver approved.", "revoked": "Waiver revoked."}


@router.get("", include_in_schema=False)
def waivers(
    request: Request, signed_in: SignedInDep, session: ReadSessionDep,
    team: TeamQuery = None, state: StateQuery = None, cursor: WaiverCursor = None, limit: PageSize = 50,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    engine: PolicyEngine = request.app.state.engine
    token = signed_in.token
    shown_team = listed_team(engine, token, "waiver.read", team)
    moment = now()
    page = waiver_page(session, team=shown_team, state=state, now=moment, before=cursor, limit=limit)
    names = ActorNames(session)
    rows = [_row(engine, token, waiver, moment, names) for waiver in page.items]
    asked = {"team": team or "", "state": state or "", "limit": limit}
    may_request = authorization(engine, token, "waiver.request", {"team": token.team}).allow
    rules = _waivable(engine) if may_request else []
    return render(
        request, "waivers.html", page=page, rows=rows, asked=asked, listed_team=shown_team, done=DONE.get(done or ""),
        may_request=may_request, rules=rules, earliest=_minute(moment + timedelta(minutes=1)),
    )


def _row(engine: PolicyEngine, token: TokenPublic, waiver: WaiverPublic, moment: datetime, names: ActorNames) -> dict[str, Any]:
    """The waiver as the page lists it, with what the policy says this token may do to it and why not."""
    may_decide = authorization(engine, token, "waiver.approve", {"team": waiver.team}).allow
    answer = authorization(engine, token, "waiver.approve", {"team": waiver.team, "requestedBy": waiver.requested_by})
    return {"waiver": waiver, "state": state_of(waiver, moment), "requester": names(waiver.requested_by) or waiver.requested_by,
            "approver": names(waiver.approver) if waiver.approver else "", "may_decide": may_decide,
            "decides": answer.allow, "why_not": "" if answer.allow else answer.reason}


def _waivable(engine: PolicyEngine) -> list[tuple[str, str]]:
    """The rules a waiver can lift: the catalogue's entries marked waivable, by id."""
    return sorted((rule, str(entry.get("title", ""))) for rule, entry in engine.catalogue.items() if entry.get("waivable") is True)


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


@router.post("", include_in_schema=False)
def request_waiver(request: Request, signed_in: SignedInDep, form: CheckedFormDep, session: SessionDep) -> RedirectResponse:
    body = _request_of(form, request.app.state.engine)
    waiver = file_waiver(request, body, signed_in.token, request.app.state.engine, session)
    return _back(waiver, "requested")


def _request_of(form: ImmutableMultiDict[str, str], engine: PolicyEngine) -> WaiverRequest:
    """The form as the API's request body, bounded as the waivers table bounds it; a 422 naming what is wrong."""
    rule = field(form, "rule", max_length=20)
    if rule not in dict(_waivable(engine)):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"rule {rule!r} is not one of the bundle's waivable rules")
    sandbox = field(form, "sandbox", max_length=200, required=False)
    try:
        return WaiverRequest(
            rule=rule, team=field(form, "team", max_length=63), experiment=field(form, "experiment", max_length=63, required=False) or "*",
            sandbox=None if sandbox in ("", "*") else sandbox, reason=field(form, "reason", max_length=4000),
            expires=_expiry(field(form, "expires", max_length=40)),
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'form'}: {error['msg']}" for error in exc.errors()[:5])
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems) from None


def _expiry(text: str) -> datetime:
    """The form's expiry, read as UTC when it names no offset (the field says so), as the API's times are."""
    try:
        return EXPIRY.validate_python(text)
    except ValidationError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the field 'expires' is not a date and time (YYYY-MM-DDTHH:MM, UTC)") from None


@router.post("/{waiver_id}/approve", include_in_schema=False)
def approve(request: Request, waiver_id: WaiverId, signed_in: SignedInDep, _: CheckedFormDep, session: SessionDep) -> RedirectResponse:
    return _back(decide_waiver(waiver_id, "approved", signed_in.token, request.app.state.engine, session), "approved")


@router.post("/{waiver_id}/revoke", include_in_schema=False)
def revoke(request: Request, waiver_id: WaiverId, signed_in: SignedInDep, _: CheckedFormDep, session: SessionDep) -> RedirectResponse:
    return _back(decide_waiver(waiver_id, "revoked", signed_in.token, request.app.state.engine, session), "revoked")


def _back(waiver: WaiverPublic, done: str) -> RedirectResponse:
    """Post/Redirect/Get: the team's list, with the outcome said and the waiver highlighted."""
    return RedirectResponse(f"/ui/waivers?{urlencode({'team': waiver.team, 'done': done})}#{waiver.id}", status.HTTP_303_SEE_OTHER)

