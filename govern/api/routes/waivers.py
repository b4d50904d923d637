"""Waivers over HTTP: a team requests, compliance approves (never the requester) or revokes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlmodel import Session

from govern.api.deps import PolicyEngineDep, SessionDep, TokenDep, decide_on, listed_team, require
from govern.api.params import TeamFilter
from govern.api.refusals import refusals
from govern.db.public import TokenPublic, WaiverPublic, WaiverRequest
from govern.policy.engines import PolicyEngine
from govern.records.waivers import change_waiver, get_waiver, list_waivers, request_waiver

router = APIRouter(prefix="/v1/waivers", tags=["waivers"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=refusals(403, 409, 422, 503))
def post_waiver(
    body: WaiverRequest, request: Request, token: TokenDep, engine: PolicyEngineDep, session: SessionDep
) -> WaiverPublic:
    """Request a waiver of one waivable rule of the active bundle for a team (and optionally one experiment or
    sandbox) until it expires."""
    return file_waiver(request, body, token, engine, session)


def file_waiver(request: Request, body: WaiverRequest, token: TokenPublic, engine: PolicyEngine, session: Session) -> WaiverPublic:
    """The request as the API and the console file it: the policy, the bundle's catalogue, the record, a commit."""
    require(engine, token, "waiver.request", {"team": body.team})
    bundle = request.app.state.bundle
    if bundle is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no policy bundle is loaded, so the rule to waive cannot be checked")
    waiver = request_waiver(session, body, requested_by=str(token.id), catalogue=bundle.catalogue)
    session.commit()
    return waiver


@router.get("", responses=refusals(403))
def get_waivers(token: TokenDep, engine: PolicyEngineDep, session: SessionDep, team: TeamFilter = None) -> list[WaiverPublic]:
    """Every team's waivers for compliance and admin; a submitter's own team's by default."""
    return list_waivers(session, listed_team(engine, token, "waiver.read", team))


def decide_waiver(waiver_id: str, new_status: str, token: TokenPublic, engine: PolicyEngine, session: Session) -> WaiverPublic:
    """Approve or revoke as the API and the console do it (govern.api.deps.decide_on: separation of duties)."""
    return decide_on(
        get_waiver(session, waiver_id), f"waiver {waiver_id!r}", "waiver.approve", engine, token, session,
        lambda: change_waiver(session, waiver_id, new_status, by=str(token.id)),
    )


@router.post("/{waiver_id}/approve", responses=refusals(403, 404, 409))
def approve_waiver(waiver_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> WaiverPublic:
    return decide_waiver(waiver_id, "approved", token, engine, session)


@router.post("/{waiver_id}/revoke", responses=refusals(403, 404, 409))
def revoke_waiver(waiver_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> WaiverPublic:
    return decide_waiver(waiver_id, "revoked", token, engine, session)
