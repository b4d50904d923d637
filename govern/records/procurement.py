"""Procurement records: vendors and sandboxes (request → approve/reject), and the live context they give
the policies. Pilots are time-boxed: a sandbox window longer than 12 weeks is refused at request time."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from govern.db.public import LedgerEntryPublic, SandboxPublic, SandboxRequest, VendorPublic, VendorUpsert
from govern.db.tables import LedgerEntry, SandboxRecord, VendorRecord, utcnow
from govern.manifest.schema import PriceModel
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


def ledger(session: Session, sandbox_id: str) -> list[LedgerEntryPublic]:
    rows = session.exec(select(LedgerEntry).where(LedgerEntry.sandbox_id == sandbox_id).order_by(col(LedgerEntry.id))).all()
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
        **request.model_dump(exclude={"start", "end"}), start=request.start, end=request.end,
        status="requested", requested_by=requested_by,
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
    required, new_status = TRANSITIONS[action]
    if (required and row.status != required) or row.status in {"rejected", "revoked"}:
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
    query = select(SandboxRecord).order_by(col(SandboxRecord.created_at))
    if team:
        query = query.where(SandboxRecord.team == team)
    return [_public(row) for row in session.exec(query)]


def _public(row: SandboxRecord) -> SandboxPublic:
    return SandboxPublic.model_validate({**row.model_dump(), "start": as_utc(row.start), "end": as_utc(row.end)})
