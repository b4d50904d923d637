"""`/ui/sandboxes`: the sandboxes with their lifecycle, window, vendor, team and budget bar, filtered and
newest first by cursor; `/ui/sandboxes/-/new`: the request form, whose dates the 12-week limit bounds;
`/ui/sandboxes/{id}`: one sandbox, its approval history, changes of its pilot terms (and a link to propose one,
routes.pilot_amendments) and ledger, and approve, reject and revoke (of the sandbox, and of a pending change of
its terms) as the authorization policy allows them, a refusal (separation of duties) shown on the disabled
button. The request form's pilot terms are govern.console.pilot_terms_form's fieldset, or JSON. Every read and
change is the API's own function (govern.api.routes.procurement and .pilot_amendments)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field, ValidationError
from sqlmodel import Session
from starlette.datastructures import ImmutableMultiDict

from govern.api.deps import ReadSessionDep, SessionDep, authorization, listed_team, require
from govern.api.params import ROW_ID_MAX
from govern.api.routes.audit import ActorNames
from govern.api.routes.pilot_amendments import decide as decide_amendment
from govern.api.routes.procurement import decide, get_one_sandbox, get_vendors, post_sandbox
from govern.console import pilot_terms_form as terms_form
from govern.console.deps import CheckedFormDep, ConsoleRoute, SignedInDep, field, now
from govern.console.forms import problems
from govern.console.params import Blank, NameQuery, PageSize, TeamQuery
from govern.console.pilot_progress import pilot_view
from govern.console.sessions import SignedIn
from govern.console.templating import render
from govern.db.public import MAX_PILOT, MIN_PILOT, SandboxPublic, SandboxRequest
from govern.policy.engines import PolicyEngine
from govern.records.errors import RecordError
from govern.records.pilot_amendments import Decision, list_amendments
from govern.records.procurement import LIFECYCLES, TRANSITIONS, SandboxFilters, ledger, may_become, page_of_sandboxes

router = APIRouter(prefix="/ui/sandboxes", route_class=ConsoleRoute)

SANDBOX_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""SandboxRequest's id pattern: `-` cannot begin an id, so `/ui/sandboxes/-/new` shadows no sandbox's page."""
SandboxId = Annotated[str, Path(min_length=1, max_length=200, pattern=SANDBOX_ID)]
Action = Literal["approve", "reject", "revoke"]
DONE = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}
LifecycleQuery = Annotated[Literal["requested", "approved", "active", "expired", "exhausted", "rejected", "revoked"] | None, Blank, Query()]
DoneQuery = Annotated[Literal["requested", "approved", "rejected", "revoked"] | None, Blank, Query()]
TermChangeQuery = Annotated[Literal["proposed", "approved", "rejected"] | None, Blank, Query(alias="term-change")]
AmendmentId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^AMD-[0-9a-f]{12}$")]
LedgerCursor = Annotated[Annotated[int, Field(ge=0, le=ROW_ID_MAX)] | None, Blank, Query()]
SandboxCursor = Annotated[Annotated[str, Field(max_length=200)] | None, Blank, Query()]
LEDGER_PAGE = 100
MAX_DEVICES = 100
PILOT_MAX_CHARS = 20_000
"""Pilot terms as the form takes them: twenty criteria with descriptions fit in well under this."""


def budget_bar(sandbox: SandboxPublic) -> dict[str, Any]:
    """Spent, reserved and remaining as shares of the budget (0–100, drawn as an SVG's rectangle widths, so
    no inline style is needed), and the amounts they stand for."""
    budget, spent, reserved = sandbox.budget, sandbox.spent, sandbox.reserved
    remaining = max(budget - spent - reserved, Decimal(0))
    if budget <= 0:
        return {"spent": 0.0, "reserved": 0.0, "remaining": remaining, "over": spent + reserved > 0}
    spent_share = min(float(spent / budget * 100), 100.0)
    return {"spent": spent_share, "reserved": min(float(reserved / budget * 100), 100.0 - spent_share),
            "remaining": remaining, "over": spent + reserved > budget}


@router.get("", include_in_schema=False)
def sandboxes(
    request: Request, signed_in: SignedInDep, session: ReadSessionDep, team: TeamQuery = None, vendor: NameQuery = None,
    lifecycle: LifecycleQuery = None, cursor: SandboxCursor = None, limit: PageSize = 50,
) -> HTMLResponse:
    engine: PolicyEngine = request.app.state.engine
    shown_team = listed_team(engine, signed_in.token, "sandbox.read", team)
    filters = SandboxFilters(team=shown_team, vendor=vendor, lifecycle=lifecycle)
    page = page_of_sandboxes(session, filters, now(), before=cursor, limit=limit)
    asked = {"team": team or "", "vendor": vendor or "", "lifecycle": lifecycle or "", "limit": limit}
    may_request = authorization(engine, signed_in.token, "sandbox.request", {"team": signed_in.token.team}).allow
    return render(request, "sandboxes.html", page=page, asked=asked, listed_team=shown_team, lifecycles=LIFECYCLES,
                  bars={sandbox.id: budget_bar(sandbox) for sandbox in page.items}, may_request=may_request)


def _window(start: str) -> dict[str, str]:
    """The dates the form's inputs offer: a start from today, an end 6 to 12 weeks after it."""
    today = now().date()
    try:
        first = date.fromisoformat(start)
    except ValueError:
        first = today
    return {"start_min": today.isoformat(), "end_min": (first + MIN_PILOT).isoformat(),
            "end_max": (first + MAX_PILOT).isoformat(), "max_days": str(MAX_PILOT.days), "min_days": str(MIN_PILOT.days)}


def _request_form(request: Request, signed_in: SignedIn, session: Session, values: dict[str, str], terms: terms_form.Fields,
                  status_code: int = 200, problem: str = "") -> HTMLResponse:
    vendors = get_vendors(signed_in.token, session)
    return render(request, "sandbox_new.html", status_code, values=values, window=_window(values["start"]), vendors=vendors,
                  problem=problem, pilot_max=PILOT_MAX_CHARS, **terms_form.fieldset(terms))


@router.get("/-/new", include_in_schema=False)
def request_form(request: Request, signed_in: SignedInDep, session: ReadSessionDep) -> HTMLResponse:
    require(request.app.state.engine, signed_in.token, "sandbox.request", {"team": signed_in.token.team})
    today = now().date()
    values = {"id": "", "team": signed_in.token.team, "vendor": "", "devices": "", "budget": "", "currency": "USD",
              "start": today.isoformat(), "end": (today + MAX_PILOT).isoformat(), "allows_confidential": "", "pilot": ""}
    return _request_form(request, signed_in, session, values, terms_form.fields_of(None))


def _devices(value: str) -> list[str]:
    return [device.strip() for device in value.split(",") if device.strip()]


@router.post("/-/new", include_in_schema=False)
def submit_request(request: Request, signed_in: SignedInDep, form: CheckedFormDep, session: SessionDep) -> Response:
    """Request a sandbox as POST /v1/sandboxes does, its pilot terms from the fieldset or the JSON textarea (not
    both); the form comes back with the refusal and its status."""
    values, terms = _submitted(form), terms_form.posted_fields(form)

    def refused(problem: str, status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT) -> HTMLResponse:
        return _request_form(request, signed_in, session, values, terms, status_code, problem)

    devices = _devices(values["devices"])
    if len(devices) > MAX_DEVICES:
        return refused(f"devices: at most {MAX_DEVICES}")
    pilot = terms_form.terms_document(terms)
    if pilot is not None and values["pilot"].strip():
        return refused("pilot: give the terms in the fields or as JSON, not both")
    try:
        pilot = json.loads(values["pilot"]) if values["pilot"].strip() else pilot
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
        return refused(f"pilot: not JSON ({exc})")
    try:
        body = SandboxRequest.model_validate({
            "id": values["id"], "team": values["team"], "vendor": values["vendor"], "devices": devices,
            "budget": values["budget"], "currency": values["currency"], "allows_confidential": bool(values["allows_confidential"]),
            "start": f"{values['start']}T00:00:00+00:00", "end": f"{values['end']}T00:00:00+00:00", "pilot": pilot,
        })
    except ValidationError as exc:
        return refused(problems(exc) if values["pilot"].strip() else terms_form.with_rows(problems(exc), terms))
    try:
        sandbox = post_sandbox(body, signed_in.token, request.app.state.engine, session)
    except RecordError as exc:
        session.rollback()
        return refused(str(exc), exc.status)
    return RedirectResponse(f"/ui/sandboxes/{quote(sandbox.id)}?done=requested", status.HTTP_303_SEE_OTHER)


def _submitted(form: ImmutableMultiDict[str, str]) -> dict[str, str]:
    values = {name: field(form, name, max_length=200, required=False) for name in ("id", "team", "vendor", "budget", "currency")}
    values["devices"] = field(form, "devices", max_length=4000, required=False)
    values["start"] = field(form, "start", max_length=10, required=False)
    values["end"] = field(form, "end", max_length=10, required=False)
    values["allows_confidential"] = "on" if form.get("allows_confidential") else ""
    values["pilot"] = field(form, "pilot", max_length=PILOT_MAX_CHARS, required=False)
    return values


@router.get("/{sandbox_id}", include_in_schema=False)
def sandbox(
    request: Request, sandbox_id: SandboxId, signed_in: SignedInDep, session: ReadSessionDep,
    after: LedgerCursor = None, done: DoneQuery = None, term_change: TermChangeQuery = None,
) -> HTMLResponse:
    engine: PolicyEngine = request.app.state.engine
    shown = get_one_sandbox(sandbox_id, signed_in.token, engine, session)
    entries = ledger(session, shown.id, after=after, limit=LEDGER_PAGE + 1)
    decider = authorization(engine, signed_in.token, "sandbox.approve", {"team": shown.team, "requestedBy": shown.requested_by})
    # refused only because this token requested it: the policy would let it decide another's request
    own_request = not decider.allow and authorization(engine, signed_in.token, "sandbox.approve", {"team": shown.team}).allow
    actions = [action for action in TRANSITIONS if may_become(shown.status, action)]
    names = ActorNames(session)
    amendments = list_amendments(session, shown.id)
    return render(
        request, "sandbox.html", sandbox=shown, bar=budget_bar(shown), entries=entries[:LEDGER_PAGE],
        later=entries[LEDGER_PAGE - 1].id if len(entries) > LEDGER_PAGE else None, after=after,
        decider=decider, actions=actions, done=done, requested_by=names(shown.requested_by),
        approved_by=names(shown.approved_by) if shown.approved_by else "",
        own_request=own_request, pilot=pilot_view(session, shown, now(), engine, signed_in.token),
        amendments=amendments, term_change=term_change, names=names,
        may_propose=authorization(engine, signed_in.token, "sandbox.request", {"team": shown.team}).allow,
        amendment_deciders={amendment.id: authorization(engine, signed_in.token, "sandbox.approve", {
            "team": shown.team, "requestedBy": amendment.requested_by}) for amendment in amendments if amendment.status == "pending"},
    )


@router.post("/{sandbox_id}/{action}", include_in_schema=False)
def decide_on_sandbox(request: Request, sandbox_id: SandboxId, action: Action, signed_in: SignedInDep, _: CheckedFormDep, session: SessionDep) -> RedirectResponse:
    """Approve, reject or revoke through the API's path; one the token may not read is a 404, as there."""
    engine: PolicyEngine = request.app.state.engine
    get_one_sandbox(sandbox_id, signed_in.token, engine, session)
    decide(sandbox_id, action, signed_in.token, engine, session)
    return RedirectResponse(f"/ui/sandboxes/{quote(sandbox_id)}?done={DONE[action]}", status.HTTP_303_SEE_OTHER)


@router.post("/{sandbox_id}/amendments/{amendment_id}/{decision}", include_in_schema=False)
def decide_on_amendment(request: Request, sandbox_id: SandboxId, amendment_id: AmendmentId, decision: Decision,
                        signed_in: SignedInDep, _: CheckedFormDep, session: SessionDep) -> RedirectResponse:
    """Approve or reject a change of the pilot's terms through the API's path (separation of duties there)."""
    decided = decide_amendment(sandbox_id, amendment_id, decision, signed_in.token, request.app.state.engine, session)
    return RedirectResponse(f"/ui/sandboxes/{quote(sandbox_id)}?term-change={decided.status}#terms", status.HTTP_303_SEE_OTHER)
