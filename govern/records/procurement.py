"""Procurement records: vendors and sandboxes (request → approve/reject), and the live context they give
the policies. Pilots are time-boxed: a sandbox window longer than 12 weeks is refused at request time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, not_, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from govern.db.public import LedgerEntryPublic, SandboxPublic, SandboxRequest, VendorPublic, VendorUpsert
from govern.db.tables import LedgerEntry, SandboxRecord, VendorRecord, utcnow
from govern.manifest.schema import PriceModel
from govern.pilots.terms import FailureRecord
from govern.records.errors import RecordError, as_utc


class InvalidVendorRecord(Exception):
    """A vendor row the models refuse (a price model stored before its bounds, or edited by hand): decisions
    on it fail closed with this reason, and procurement sees it in the vendor list."""


def stored_price_model(name: str, raw: dict[str, Any] | None) -> PriceModel | None:
    """The vendor's price model as stored, validated; InvalidVendorRecord says what is wrong with it."""
    if raw is None:
        return None
    try:
        return PriceModel.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidVendorRecord(
            f"vendor {name!r} has a price model on record that is not valid ({where}: {first['msg']}); "
            f"procurement must correct it (PUT /v1/vendors/{name})"
        ) from None


TRANSITIONS = {"approve": ("requested", "approved"), "reject": ("requested", "rejected"), "revoke": (None, "revoked")}
LIFECYCLES = ("requested", "approved", "active", "expired", "exhausted", "rejected", "revoked")


def may_become(status: str, action: str) -> bool:
    """Whether a sandbox whose stored status is `status` can be approved, rejected or revoked (`action`):
    approve and reject a requested one, revoke one that is requested or approved."""
    required, _ = TRANSITIONS[action]
    return (required is None or status == required) and status not in {"rejected", "revoked"}


def ledger(session: Session, sandbox_id: str, *, after: int | None = None, limit: int | None = None) -> list[LedgerEntryPublic]:
    """The sandbox's ledger, oldest first: all of it, or (for a page) `limit` entries after the entry `after`."""
    query = select(LedgerEntry).where(LedgerEntry.sandbox_id == sandbox_id).order_by(col(LedgerEntry.id))
    if after is not None:
        query = query.where(col(LedgerEntry.id) > after)
    rows = session.exec(query.limit(limit) if limit is not None else query).all()
    return [LedgerEntryPublic.model_validate({**row.model_dump(), "created_at": as_utc(row.created_at)}) for row in rows]


def upsert_vendor(session: Session, name: str, update: VendorUpsert) -> VendorPublic:
    row = session.get(VendorRecord, name) or VendorRecord(name=name)
    row.approved, row.data_processing_agreement, row.regions = update.approved, update.data_processing_agreement, update.regions
    row.price_model = update.price_model.model_dump(by_alias=True) if update.price_model else None
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return _vendor_public(row)


def list_vendors(session: Session) -> list[VendorPublic]:
    return [_vendor_public(row) for row in session.exec(select(VendorRecord).order_by(VendorRecord.name))]


def _vendor_public(row: VendorRecord) -> VendorPublic:
    """A vendor as the API shows it; an invalid stored price model is shown as its problem, not as a 500."""
    try:
        price_model, problem = stored_price_model(row.name, row.price_model), None
    except InvalidVendorRecord as exc:
        price_model, problem = None, str(exc)
    return VendorPublic(name=row.name, approved=row.approved, data_processing_agreement=row.data_processing_agreement,
                        regions=row.regions, price_model=price_model, price_model_problem=problem)


def request_sandbox(session: Session, request: SandboxRequest, requested_by: str) -> SandboxPublic:
    if session.get(VendorRecord, request.vendor) is None:
        raise RecordError(f"vendor {request.vendor!r} is not on record; procurement must add it first", 422)
    if session.get(SandboxRecord, request.id) is not None:
        raise RecordError(f"sandbox {request.id!r} already exists")
    row = SandboxRecord(
        **request.model_dump(exclude={"start", "end", "pilot"}), start=request.start, end=request.end,
        status="requested", requested_by=requested_by,
        pilot_terms=request.pilot.model_dump(mode="json", by_alias=True) if request.pilot else None,
    )
    session.add(row)
    session.flush()
    return _public(row)


def decide_sandbox(session: Session, sandbox_id: str, action: str, decided_by: str) -> SandboxPublic:
    """approve or reject a requested sandbox, or revoke one that is requested or approved; separation of
    duties is the authorization policy's job."""
    row = session.get(SandboxRecord, sandbox_id, with_for_update=True)
    if row is None:
        raise RecordError(f"no sandbox {sandbox_id!r}", 404)
    new_status = TRANSITIONS[action][1]
    if not may_become(row.status, action):
        raise RecordError(f"sandbox {sandbox_id!r} is {row.status}; it cannot be {new_status}")
    row.status, row.decided_at, row.revision = new_status, utcnow(), row.revision + 1
    if action == "approve":
        row.approved_by, row.approved_at = decided_by, row.decided_at
    session.add(row)
    session.flush()
    return _public(row)


def get_sandbox(session: Session, sandbox_id: str) -> SandboxPublic | None:
    row = session.get(SandboxRecord, sandbox_id)
    return _public(row) if row else None


def list_sandboxes(session: Session, team: str | None = None) -> list[SandboxPublic]:
    query = _filtered(SandboxFilters(team=team)).order_by(col(SandboxRecord.created_at))
    return [_public(row) for row in session.exec(query)]


@dataclass(frozen=True)
class SandboxFilters:
    """What a sandbox listing is narrowed to; None is no filter. `lifecycle` is one of LIFECYCLES."""

    team: str | None = None
    vendor: str | None = None
    lifecycle: str | None = None


@dataclass(frozen=True)
class SandboxPage:
    items: list[SandboxPublic]
    next_cursor: str | None
    """The id of the last sandbox shown, when older ones match too."""


def page_of_sandboxes(session: Session, filters: SandboxFilters, now: datetime, *, before: str | None, limit: int) -> SandboxPage:
    """The sandboxes matching `filters`, newest request first, `limit` at a time: the next page starts after
    the sandbox `before` (a cursor naming a sandbox that does not exist is a 422)."""
    created, sandbox_id = col(SandboxRecord.created_at), col(SandboxRecord.id)
    query = _filtered(filters, now).order_by(created.desc(), sandbox_id.desc())
    if before is not None:
        mark = session.get(SandboxRecord, before)
        if mark is None:
            raise RecordError(f"no sandbox {before!r} to page on from", 422)
        query = query.where(or_(created < mark.created_at, and_(created == mark.created_at, sandbox_id < mark.id)))
    rows = session.exec(query.limit(limit + 1)).all()
    return SandboxPage([_public(row) for row in rows[:limit]], rows[limit - 1].id if len(rows) > limit else None)


def _filtered(filters: SandboxFilters, now: datetime | None = None) -> SelectOfScalar[SandboxRecord]:
    query = select(SandboxRecord)
    if filters.team:
        query = query.where(SandboxRecord.team == filters.team)
    if filters.vendor:
        query = query.where(SandboxRecord.vendor == filters.vendor)
    if filters.lifecycle:
        query = query.where(_in_lifecycle(filters.lifecycle, now or utcnow()))
    return query


def _in_lifecycle(lifecycle: str, now: datetime) -> ColumnElement[bool]:
    """SandboxPublic.lifecycle as SQL, so a filter matches what each row shows: the same tests, in its order."""
    status, start, end = col(SandboxRecord.status), col(SandboxRecord.start), col(SandboxRecord.end)
    if lifecycle not in {"approved", "active", "expired", "exhausted"}:
        return status == lifecycle
    used_up = col(SandboxRecord.spent) + col(SandboxRecord.reserved) >= col(SandboxRecord.budget)
    open_ended = and_(status == "approved", end > now)
    return {
        "expired": and_(status == "approved", end <= now),
        "exhausted": and_(open_ended, used_up),
        "active": and_(open_ended, not_(used_up), start <= now),
        "approved": and_(open_ended, not_(used_up), start > now),
    }[lifecycle]


def failure_record(row: SandboxRecord) -> FailureRecord:
    return FailureRecord(ended=row.jobs_ended, failed=row.jobs_failed, cancelled=row.jobs_cancelled, fallen_back=row.jobs_fallen_back,
                         failed_spend=row.failed_spend, cancelled_spend=row.cancelled_spend)


def _public(row: SandboxRecord) -> SandboxPublic:
    decided = as_utc(row.decided_at) if row.decided_at else None
    return SandboxPublic.model_validate(
        {**row.model_dump(exclude={"pilot_terms"}), "start": as_utc(row.start), "end": as_utc(row.end), "created_at": as_utc(row.created_at),
         "decided_at": decided, "pilot": row.pilot_terms, "failures": failure_record(row)}
    )
