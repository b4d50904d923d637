"""`/ui/sandboxes/{id}/amendments/new`: propose a change of a sandbox's pilot terms, the fieldset filled in
with its current terms, and a reason; sent through the API's own function (POST
/v1/sandboxes/{id}/pilot/amendments), so it is allowed, checked and recorded as there. Approving or rejecting
it is on the sandbox's page (routes.sandboxes)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from govern.api.deps import ReadSessionDep, SessionDep, require
from govern.api.routes.pilot_amendments import post_amendment
from govern.api.routes.procurement import get_one_sandbox
from govern.console import pilot_terms_form as terms_form
from govern.console.deps import CheckedFormDep, ConsoleRoute, SignedInDep, field
from govern.console.forms import problems
from govern.console.routes.sandboxes import SandboxId
from govern.console.sessions import SignedIn
from govern.console.templating import render
from govern.db.public import PilotAmendmentRequest, SandboxPublic
from govern.records.errors import RecordError

router = APIRouter(prefix="/ui/sandboxes", route_class=ConsoleRoute)

REASON_MAX_CHARS = 4000
"""Past the model's 2000, so a long reason is refused in the form's words, not as an error page."""


def _to_amend(request: Request, sandbox_id: str, signed_in: SignedIn, session: ReadSessionDep) -> SandboxPublic:
    """The sandbox as GET reads it (another team's is a 404), once the token may propose for its team."""
    sandbox = get_one_sandbox(sandbox_id, signed_in.token, request.app.state.engine, session)
    require(request.app.state.engine, signed_in.token, "sandbox.request", {"team": sandbox.team})
    return sandbox


def _proposal_form(request: Request, sandbox: SandboxPublic, terms: terms_form.Fields, reason: str, status_code: int = 200,
                   problem: str = "") -> HTMLResponse:
    return render(request, "pilot_amendment_new.html", status_code, sandbox=sandbox, reason=reason,
                  problem=problem, **terms_form.fieldset(terms))


@router.get("/{sandbox_id}/amendments/new", include_in_schema=False)
def proposal_form(request: Request, sandbox_id: SandboxId, signed_in: SignedInDep, session: ReadSessionDep) -> HTMLResponse:
    sandbox = _to_amend(request, sandbox_id, signed_in, session)
    return _proposal_form(request, sandbox, terms_form.fields_of(sandbox.pilot), "")


@router.post("/{sandbox_id}/amendments/new", include_in_schema=False)
def propose(request: Request, sandbox_id: SandboxId, signed_in: SignedInDep, form: CheckedFormDep, session: SessionDep) -> Response:
    """Propose the terms as the fieldset gives them; the form comes back, filled in, with the refusal."""
    sandbox = _to_amend(request, sandbox_id, signed_in, session)
    terms, reason = terms_form.posted_fields(form), field(form, "reason", max_length=REASON_MAX_CHARS, required=False)
    document = terms_form.terms_document(terms)
    if document is None:
        return _proposal_form(request, sandbox, terms, reason, status.HTTP_422_UNPROCESSABLE_CONTENT,
                              "terms: a change names the whole new terms: an objective, criteria and failure limits")
    try:
        body = PilotAmendmentRequest.model_validate({"terms": document, "reason": reason})
    except ValidationError as exc:
        return _proposal_form(request, sandbox, terms, reason, status.HTTP_422_UNPROCESSABLE_CONTENT, terms_form.with_rows(problems(exc), terms))
    try:
        post_amendment(sandbox.id, body, signed_in.token, request.app.state.engine, session)
    except RecordError as exc:
        session.rollback()
        return _proposal_form(request, sandbox, terms, reason, exc.status, str(exc))
    return RedirectResponse(f"/ui/sandboxes/{quote(sandbox.id)}?term-change=proposed#terms", status.HTTP_303_SEE_OTHER)
