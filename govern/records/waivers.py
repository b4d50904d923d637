"""Waivers: requested by a team, approved by compliance (never by the requester), revocable, and of no
effect once expired. Approved, unexpired waivers reach the policies through the live context."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from govern.db.public import WaiverPublic, WaiverRequest
from govern.db.tables import WaiverRecord, utcnow
from govern.records.errors import RecordError, as_utc


def _public(row: WaiverRecord) -> WaiverPublic:
    return WaiverPublic.model_validate({**row.model_dump(), "expires": as_utc(row.expires)})


def request_waiver(
    session: Session, request: WaiverRequest, requested_by: str, catalogue: Mapping[str, Mapping[str, Any]]
) -> WaiverPublic:
    """A waiver of a rule the bundle's catalogue marks waivable; any other would be approved and do nothing."""
    entry = catalogue.get(request.rule)
    if entry is None:
        raise RecordError(f"rule {request.rule!r} is not in the policy bundle's rule catalogue, so it cannot be waived "
                          "(`govern policy list` shows the rules)", 422)
    if entry.get("waivable") is not True:
        raise RecordError(f"rule {request.rule!r} is not waivable: its METADATA says custom.waivable is false", 422)
    if request.expires <= utcnow():
        raise RecordError("a waiver must expire in the future", 422)
    row = WaiverRecord(
        id=f"WVR-{uuid.uuid4().hex[:12]}", status="requested", requested_by=requested_by, **request.model_dump()
    )
    session.add(row)
    session.flush()
    return _public(row)


def get_waiver(session: Session, waiver_id: str) -> WaiverPublic | None:
    row = session.get(WaiverRecord, waiver_id)
    return _public(row) if row else None


def change_waiver(session: Session, waiver_id: str, status: str, by: str) -> WaiverPublic:
    """approve (from requested) or revoke (from requested or approved)."""
    row = session.get(WaiverRecord, waiver_id, with_for_update=True)
    if row is None:
        raise RecordError(f"no waiver {waiver_id!r}", 404)
    allowed_from = {"approved": {"requested"}, "revoked": {"requested", "approved"}}[status]
    if row.status not in allowed_from:
        raise RecordError(f"waiver {waiver_id!r} is {row.status}")
    row.status, row.decided_at = status, utcnow()
    if status == "approved":
        row.approver = by
    session.add(row)
    session.flush()
    return _public(row)


def list_waivers(session: Session, team: str | None = None) -> list[WaiverPublic]:
    query = select(WaiverRecord).order_by(col(WaiverRecord.created_at))
    if team:
        query = query.where(WaiverRecord.team == team)
    return [_public(row) for row in session.exec(query)]
