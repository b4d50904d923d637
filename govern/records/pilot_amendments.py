"""Pilot amendments: a sandbox's pilot terms change only through a recorded approval. Anyone who may request
the sandbox proposes new terms with a reason; someone other than the proposer approves or rejects (the
authorization policy's separation of duties). Approval replaces the terms and bumps the sandbox's revision
in one transaction, under the sandbox's row lock, so a decision made on the old terms no longer holds; the
failure record stays as counted."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlmodel import Session, col, select

from govern.db.public import PilotAmendmentPublic, PilotAmendmentRequest
from govern.db.tables import PilotAmendmentRecord, SandboxRecord, utcnow
from govern.pilots.terms import PilotTerms
from govern.records.errors import RecordError, as_utc

AMENDABLE = ("requested", "approved")
"""The stored statuses whose terms may still change; an approved sandbox past its window has expired."""

Decision = Literal["approve", "reject"]
DECIDED = {"approve": "approved", "reject": "rejected"}


def propose_amendment(session: Session, sandbox_id: str, request: PilotAmendmentRequest, requested_by: str) -> PilotAmendmentPublic:
    """Record the proposed terms beside the terms they replace; a sandbox has at most one pending proposal."""
    sandbox = _amendable(session, sandbox_id)
    terms = _stored(request.terms)
    if terms == sandbox.pilot_terms:
        raise RecordError(f"sandbox {sandbox_id!r} already has these pilot terms", 422)
    if _pending(session, sandbox_id) is not None:
        raise RecordError(f"sandbox {sandbox_id!r} already has a pending change of its pilot terms; approve or reject it first")
    row = PilotAmendmentRecord(
        id=f"AMD-{uuid.uuid4().hex[:12]}", sandbox_id=sandbox_id, terms=terms, replaces=sandbox.pilot_terms,
        reason=request.reason, status="pending", requested_by=requested_by,
    )
    session.add(row)
    session.flush()
    return _public(row, sandbox)


def decide_amendment(session: Session, sandbox_id: str, amendment_id: str, decision: Decision, decided_by: str) -> PilotAmendmentPublic:
    """Approve (the sandbox takes the proposed terms, its revision bumped) or reject (nothing else changes) a
    pending proposal; one whose replaced terms are no longer the sandbox's is stale and refused. A proposal
    for a sandbox whose terms no longer change can still be rejected, so none stays pending for good."""
    sandbox = _amendable(session, sandbox_id) if decision == "approve" else _locked(session, sandbox_id)
    row = session.get(PilotAmendmentRecord, amendment_id, with_for_update=True)
    if row is None or row.sandbox_id != sandbox_id:
        raise RecordError(f"no pilot amendment {amendment_id!r} of sandbox {sandbox_id!r}", 404)
    if row.status != "pending":
        raise RecordError(f"pilot amendment {amendment_id!r} is {row.status}; it takes no further decision")
    if decision == "approve":
        if row.replaces != sandbox.pilot_terms:
            raise RecordError(f"pilot amendment {amendment_id!r} is stale: the terms it replaces are no longer the sandbox's")
        sandbox.pilot_terms, sandbox.revision = row.terms, sandbox.revision + 1
        session.add(sandbox)
    row.status, row.decided_by, row.decided_at = DECIDED[decision], decided_by, utcnow()
    session.add(row)
    session.flush()
    return _public(row, sandbox)


def get_amendment(session: Session, sandbox_id: str, amendment_id: str) -> PilotAmendmentPublic | None:
    sandbox = session.get(SandboxRecord, sandbox_id)
    row = session.get(PilotAmendmentRecord, amendment_id)
    if sandbox is None or row is None or row.sandbox_id != sandbox_id:
        return None
    return _public(row, sandbox)


def list_amendments(session: Session, sandbox_id: str) -> list[PilotAmendmentPublic]:
    """Every proposal for the sandbox, oldest first, whatever became of it."""
    sandbox = session.get(SandboxRecord, sandbox_id)
    if sandbox is None:
        return []
    query = (select(PilotAmendmentRecord).where(PilotAmendmentRecord.sandbox_id == sandbox_id)
             .order_by(col(PilotAmendmentRecord.requested_at), col(PilotAmendmentRecord.id)))
    return [_public(row, sandbox) for row in session.exec(query)]


def _amendable(session: Session, sandbox_id: str) -> SandboxRecord:
    """The sandbox, locked, if its terms may still change: requested, or approved and not yet expired."""
    sandbox = _locked(session, sandbox_id)
    if sandbox.status not in AMENDABLE:
        raise RecordError(f"sandbox {sandbox_id!r} is {sandbox.status}; its pilot terms no longer change")
    if sandbox.status == "approved" and as_utc(sandbox.end) <= utcnow():
        raise RecordError(f"sandbox {sandbox_id!r} has expired; its pilot terms no longer change")
    return sandbox


def _locked(session: Session, sandbox_id: str) -> SandboxRecord:
    """The sandbox under its row lock (as govern.pilots.failures counts on it), taken before the amendment's."""
    sandbox = session.get(SandboxRecord, sandbox_id, with_for_update=True)
    if sandbox is None:
        raise RecordError(f"no sandbox {sandbox_id!r}", 404)
    return sandbox


def _pending(session: Session, sandbox_id: str) -> PilotAmendmentRecord | None:
    query = select(PilotAmendmentRecord).where(PilotAmendmentRecord.sandbox_id == sandbox_id, PilotAmendmentRecord.status == "pending")
    return session.exec(query).first()


def _stored(terms: PilotTerms) -> dict[str, Any]:
    """The terms as a sandbox stores them (govern.records.procurement.request_sandbox), so they compare."""
    return terms.model_dump(mode="json", by_alias=True)


def _public(row: PilotAmendmentRecord, sandbox: SandboxRecord) -> PilotAmendmentPublic:
    return PilotAmendmentPublic.model_validate({
        **row.model_dump(), "team": sandbox.team, "requested_at": as_utc(row.requested_at),
        "decided_at": as_utc(row.decided_at) if row.decided_at else None,
    })
