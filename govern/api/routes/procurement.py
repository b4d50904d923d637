"""Procurement over HTTP: vendors (procurement manages), sandboxes (request → approve/reject)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlmodel import Session

from govern.api.deps import PolicyEngineDep, SessionDep, TokenDep, decide_on, listed_team, require, sandbox_reader
from govern.api.params import TeamFilter, VendorName
from govern.api.refusals import refusals
from govern.db.public import LedgerEntryPublic, SandboxPublic, SandboxRequest, TokenPublic, VendorPublic, VendorUpsert
from govern.policy.engines import PolicyEngine
from govern.records.procurement import (
    decide_sandbox,
    get_sandbox,
    ledger,
    list_sandboxes,
    list_vendors,
    request_sandbox,
    upsert_vendor,
)

router = APIRouter(prefix="/v1", tags=["procurement"])


@router.put("/vendors/{name}", responses=refusals(403))
def put_vendor(name: VendorName, body: VendorUpsert, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> VendorPublic:
    """Onboard or update a vendor: approval, data-processing agreement, regions (procurement)."""
    require(engine, token, "vendor.manage", {})
    vendor = upsert_vendor(session, name, body)
    session.commit()
    return vendor


@router.get("/vendors")
def get_vendors(token: TokenDep, session: SessionDep) -> list[VendorPublic]:
    return list_vendors(session)


@router.post("/sandboxes", status_code=status.HTTP_201_CREATED, responses=refusals(403, 409, 422))
def post_sandbox(body: SandboxRequest, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> SandboxPublic:
    """Request a sandbox for a team (at most 12 weeks); it must be approved by someone else."""
    require(engine, token, "sandbox.request", {"team": body.team})
    sandbox = request_sandbox(session, body, requested_by=str(token.id))
    session.commit()
    return sandbox


@router.get("/sandboxes", responses=refusals(403))
def get_sandboxes(token: TokenDep, engine: PolicyEngineDep, session: SessionDep, team: TeamFilter = None) -> list[SandboxPublic]:
    """Every team's sandboxes for procurement, compliance and admin; a submitter's own team's by default."""
    return list_sandboxes(session, listed_team(engine, token, "sandbox.read", team))


@router.get("/sandboxes/{sandbox_id}", responses=refusals(403, 404))
def get_one_sandbox(sandbox_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> SandboxPublic:
    """One sandbox with its budget, spend, reservations and lifecycle; one the token may not read is answered
    as one that does not exist, so sandbox ids cannot be probed."""
    sandbox = get_sandbox(session, sandbox_id)
    if sandbox is None or not sandbox_reader(engine, token)(sandbox.team):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sandbox {sandbox_id!r}")
    return sandbox


@router.get("/sandboxes/{sandbox_id}/ledger", responses=refusals(403, 404))
def get_ledger(sandbox_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> list[LedgerEntryPublic]:
    """Every movement of the sandbox's money, oldest first: reservations at admission, their release and
    the actual charge when each job ends, each with a note saying how the amount was made."""
    sandbox = get_one_sandbox(sandbox_id, token, engine, session)
    return ledger(session, sandbox.id)


def decide(sandbox_id: str, action: str, token: TokenPublic, engine: PolicyEngine, session: Session) -> SandboxPublic:
    """Approve, reject or revoke as the token (the console's buttons take this path too)."""
    return decide_on(
        get_sandbox(session, sandbox_id), f"sandbox {sandbox_id!r}", "sandbox.approve", engine, token, session,
        lambda: decide_sandbox(session, sandbox_id, action, decided_by=str(token.id)),
    )


@router.post("/sandboxes/{sandbox_id}/approve", responses=refusals(403, 404, 409))
def approve_sandbox(sandbox_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> SandboxPublic:
    return decide(sandbox_id, "approve", token, engine, session)


@router.post("/sandboxes/{sandbox_id}/reject", responses=refusals(403, 404, 409))
def reject_sandbox(sandbox_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> SandboxPublic:
    return decide(sandbox_id, "reject", token, engine, session)


@router.post("/sandboxes/{sandbox_id}/revoke", responses=refusals(403, 404, 409))
def revoke_sandbox(sandbox_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> SandboxPublic:
    """Revoke a sandbox: submissions billed to it are denied from now on."""
    return decide(sandbox_id, "revoke", token, engine, session)
