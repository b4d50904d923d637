"""Changes of a pilot's terms over HTTP: whoever may request the sandbox proposes, procurement approves or
rejects (never the proposer), and the history stays on the procurement record."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import Session

from govern.api.deps import PolicyEngineDep, ReadSessionDep, SessionDep, TokenDep, decide_on, require
from govern.api.refusals import refusals
from govern.api.routes.procurement import get_one_sandbox
from govern.db.public import PilotAmendmentPublic, PilotAmendmentRequest, TokenPublic
from govern.policy.engines import PolicyEngine
from govern.records.pilot_amendments import (
    Decision,
    decide_amendment,
    get_amendment,
    list_amendments,
    propose_amendment,
)

router = APIRouter(prefix="/v1/sandboxes", tags=["pilots"])


@router.post("/{sandbox_id}/pilot/amendments", status_code=status.HTTP_201_CREATED, responses=refusals(403, 404, 409, 422))
def post_amendment(sandbox_id: str, body: PilotAmendmentRequest, token: TokenDep, engine: PolicyEngineDep,
                   session: SessionDep) -> PilotAmendmentPublic:
    """Propose new pilot terms (all of them) with a reason, as someone who may request the sandbox; they
    replace the current terms only once someone else approves. One proposal is pending at a time."""
    sandbox = get_one_sandbox(sandbox_id, token, engine, session)
    require(engine, token, "sandbox.request", {"team": sandbox.team})
    amendment = propose_amendment(session, sandbox.id, body, requested_by=str(token.id))
    session.commit()
    return amendment


@router.get("/{sandbox_id}/pilot/amendments", responses=refusals(403, 404))
def get_amendments(sandbox_id: str, token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep) -> list[PilotAmendmentPublic]:
    """Every proposed change of the pilot's terms, oldest first: pending, approved or rejected, with the
    terms it replaced, why, and who proposed and decided it."""
    sandbox = get_one_sandbox(sandbox_id, token, engine, session)
    return list_amendments(session, sandbox.id)


def decide(sandbox_id: str, amendment_id: str, decision: Decision, token: TokenPublic, engine: PolicyEngine,
           session: Session) -> PilotAmendmentPublic:
    """Approve or reject as the token (the console's buttons take this path too): the sandbox read as GET
    reads it, then govern.api.deps.decide_on's separation of duties against the proposer."""
    sandbox = get_one_sandbox(sandbox_id, token, engine, session)
    return decide_on(
        get_amendment(session, sandbox.id, amendment_id), f"pilot amendment {amendment_id!r} of sandbox {sandbox_id!r}",
        "sandbox.approve", engine, token, session,
        lambda: decide_amendment(session, sandbox.id, amendment_id, decision, decided_by=str(token.id)),
    )


@router.post("/{sandbox_id}/pilot/amendments/{amendment_id}/approve", responses=refusals(403, 404, 409))
def approve_amendment(sandbox_id: str, amendment_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> PilotAmendmentPublic:
    """Approve a pending change: the sandbox takes the proposed terms and its revision is bumped, so decisions
    made on the old terms are made again; its failure record stays as counted."""
    return decide(sandbox_id, amendment_id, "approve", token, engine, session)


@router.post("/{sandbox_id}/pilot/amendments/{amendment_id}/reject", responses=refusals(403, 404, 409))
def reject_amendment(sandbox_id: str, amendment_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> PilotAmendmentPublic:
    """Reject a pending change: the terms stay as they are."""
    return decide(sandbox_id, amendment_id, "reject", token, engine, session)
