"""The live context of one decision: its vendor, its sandbox and its team's approved waivers, read from the
procurement and waiver records in one statement.

Every check and submission pays for this read, so it is one round trip and one cached Core statement (the
three tables outer-joined to a single row), not three ORM queries. The rare second decision of a submission
whose reservation missed reads the sandbox again under its row lock (PostgreSQL refuses FOR UPDATE on the
nullable side of an outer join), and its vendor and waivers with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, literal_column, select
from sqlmodel import Session

from govern.db.tables import SandboxRecord, VendorRecord, WaiverRecord, table_of
from govern.manifest.schema import (
    API_VERSION,
    Context,
    ContextSpec,
    PilotFailureBudget,
    PilotFailures,
    Sandbox,
    SandboxPilot,
    Vendor,
    Waiver,
    WaiverScope,
)
from govern.records.errors import as_utc
from govern.records.procurement import stored_price_model

_PREFIXES = {"vendors": "vendor_", "sandboxes": "sandbox_", "waivers": "waiver_"}


@dataclass(frozen=True)
class LiveContext:
    """The context a decision is made on, and the revision of the sandbox row it read (None without one):
    what a reservation must find unchanged for the decision to stand."""

    context: Context
    sandbox_revision: int | None


def context_for(
    session: Session, *, team: str, vendor: str, sandbox_id: str | None, lock_sandbox: bool = False,
    may_see: Callable[[str], bool] | None = None,
) -> LiveContext:
    """The live facts one decision can depend on.

    The sandbox's spend includes what accepted submissions have reserved. Decisions read it without a lock
    and reserve on the revision they read (govern.admission.reservations); `lock_sandbox` holds the row until
    commit, for the second decision of a submission whose reservation found the sandbox changed. Another
    team's sandbox is left out unless `may_see(its team)` says the caller may read it, so that a check
    against it answers exactly as for a sandbox that does not exist: its id cannot be probed for its
    existence, status, owner or budget. A vendor row the models refuse raises
    govern.records.procurement.InvalidVendorRecord.
    """
    parameters = {"vendor": vendor, "sandbox": sandbox_id, "team": team}
    if lock_sandbox and sandbox_id:
        sandbox_table = table_of(SandboxRecord)
        locked = session.execute(sandbox_table.select().where(sandbox_table.c.id == sandbox_id).with_for_update()).first()
        rows: Sequence[Row[Any]] = session.execute(_joined_read(), parameters).all()
        sandbox = dict(locked._mapping) if locked is not None else None
    else:
        rows = session.execute(_joined_read(), parameters).all()
        sandbox = _columns(rows[0], "sandboxes") if rows else None
    first = rows[0] if rows else None
    vendor_row = _columns(first, "vendors") if first is not None else None
    vendors = [_vendor(vendor_row)] if vendor_row else []
    visible = sandbox is not None and (sandbox["team"] == team or (may_see is not None and may_see(sandbox["team"])))
    sandboxes = [_sandbox(sandbox)] if sandbox is not None and visible else []
    waivers = [_waiver(columns) for row in rows if (columns := _columns(row, "waivers"))]
    context = Context(api_version=API_VERSION, kind="Context", spec=ContextSpec(vendors=vendors, sandboxes=sandboxes, waivers=waivers))
    return LiveContext(context, sandbox["revision"] if sandbox is not None else None)


@functools.cache
def _joined_read() -> Select[Any]:
    """One row per approved waiver of the team (one row when there is none), each carrying the vendor's and
    the sandbox's columns (NULL where there is no such row); built once, on first use."""
    vendors, sandboxes, waivers = table_of(VendorRecord), table_of(SandboxRecord), table_of(WaiverRecord)
    one = select(literal_column("1").label("one")).subquery("one")
    joined = (
        one.outerjoin(vendors, vendors.c.name == bindparam("vendor"))
        .outerjoin(sandboxes, sandboxes.c.id == bindparam("sandbox"))
        .outerjoin(waivers, and_(waivers.c.team == bindparam("team"), waivers.c.status == "approved"))
    )
    columns = [column.label(_PREFIXES[table.name] + column.name) for table in (vendors, sandboxes, waivers) for column in table.c]
    return select(*columns).select_from(joined).order_by(waivers.c.id)


def _columns(row: Row[Any], table: str) -> dict[str, Any] | None:
    """One table's columns of a joined row, unprefixed; None where the outer join found no row of it."""
    prefix = _PREFIXES[table]
    values = {key[len(prefix):]: value for key, value in row._mapping.items() if key.startswith(prefix)}
    return values if values["id" if table != "vendors" else "name"] is not None else None


def _vendor(row: dict[str, Any]) -> Vendor:
    return Vendor(name=row["name"], approved=row["approved"], data_processing_agreement=row["data_processing_agreement"],
                  regions=row["regions"], price_model=stored_price_model(row["name"], row["price_model"]))


def _sandbox(row: dict[str, Any]) -> Sandbox:
    return Sandbox(
        id=row["id"], team=row["team"], vendor=row["vendor"], devices=row["devices"], status=row["status"],
        requested_by=row["requested_by"], approved_by=row["approved_by"], start=as_utc(row["start"]), end=as_utc(row["end"]),
        budget=float(row["budget"]), spent=float(row["spent"] + row["reserved"]), currency=row["currency"],
        allows_confidential=row["allows_confidential"], pilot=_pilot(row),
    )


def _pilot(row: dict[str, Any]) -> SandboxPilot | None:
    """The sandbox's failure budget and failure record, for rule PR-008; None without pilot terms."""
    terms = row["pilot_terms"]
    if not terms:
        return None
    failures = PilotFailures(ended=row["jobs_ended"], failed=row["jobs_failed"], cancelled=row["jobs_cancelled"],
                             fallen_back=row["jobs_fallen_back"], failed_spend=float(row["failed_spend"]),
                             cancelled_spend=float(row["cancelled_spend"]))
    return SandboxPilot(id=row["id"], failure_budget=PilotFailureBudget.model_validate(terms["failureBudget"]), failures=failures)


def _waiver(row: dict[str, Any]) -> Waiver:
    """An approved waiver as the policies read it (the policy itself ignores expired ones)."""
    return Waiver(
        id=row["id"], rule=row["rule"], scope=WaiverScope(team=row["team"], experiment=row["experiment"], sandbox=row["sandbox"]),
        status="approved", requested_by=row["requested_by"], approver=row["approver"] or "", reason=row["reason"],
        expires=as_utc(row["expires"]),
    )
