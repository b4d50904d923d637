"""Waivers: requested by a team, approved by compliance (never by the requester), revocable, and of no
effect once expired. Approved, unexpired waivers reach the policies through the live context."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import and_, or_
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
    row = WaiverRecord(  # stored in UTC: SQLite keeps the wall time and drops the offset
        id=f"WVR-{uuid.uuid4().hex[:12]}", status="requested", requested_by=requested_by,
        **{**request.model_dump(), "expires": request.expires.astimezone(UTC)},
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


WaiverState = Literal["requested", "approved", "revoked", "expired"]


def state_of(waiver: WaiverPublic, now: datetime) -> WaiverState:
    """What a waiver is now: revoked stays revoked; a requested or approved one past its expiry is expired
    (the policies ignore it), whatever its stored status."""
    if waiver.status == "revoked":
        return "revoked"
    return "expired" if waiver.expires <= now else "approved" if waiver.status == "approved" else "requested"


@dataclass(frozen=True)
class WaiverPage:
    items: list[WaiverPublic]
    next_cursor: str | None


def waiver_page(
    session: Session, *, team: str | None, state: WaiverState | None, now: datetime, before: str | None = None, limit: int = 50
) -> WaiverPage:
    """Newest first, a page at a time: `before` is the last waiver id of the page before (a 404 when unknown),
    and the order is (created_at, id), so a page never repeats or skips a waiver however many share a time."""
    query = select(WaiverRecord)
    if team:
        query = query.where(WaiverRecord.team == team)
    if state == "revoked":
        query = query.where(WaiverRecord.status == "revoked")
    elif state == "expired":
        query = query.where(WaiverRecord.status != "revoked", col(WaiverRecord.expires) <= now)
    elif state is not None:
        query = query.where(WaiverRecord.status == state, col(WaiverRecord.expires) > now)
    if before is not None:
        last = session.get(WaiverRecord, before)
        if last is None:
            raise RecordError(f"no waiver {before!r} to page on from", 404)
        query = query.where(or_(col(WaiverRecord.created_at) < last.created_at,
                                and_(col(WaiverRecord.created_at) == last.created_at, col(WaiverRecord.id) < last.id)))
    rows = session.exec(query.order_by(col(WaiverRecord.created_at).desc(), col(WaiverRecord.id).desc()).limit(limit + 1)).all()
    items = [_public(row) for row in rows[:limit]]
    return WaiverPage(items, items[-1].id if len(rows) > limit else None)
