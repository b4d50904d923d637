"""The live context read in one statement: vendor, sandbox and every approved waiver of the team, on SQLite and
PostgreSQL, unlocked and under the sandbox's row lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlmodel import Session

from govern.db.database import create_db_engine, session_scope, upgrade
from govern.db.tables import SandboxRecord, VendorRecord, WaiverRecord
from govern.records.live_context import context_for

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def database(database_url):
    engine = create_db_engine(database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        session.add(VendorRecord(name="ibm", data_processing_agreement=True, regions=["eu"]))
        session.flush()
        for sandbox_id, team in (("SBX-1", "materials-rnd"), ("SBX-2", "other-team")):
            session.add(SandboxRecord(id=sandbox_id, team=team, vendor="ibm", devices=["ibm_brisbane"], status="approved",
                                      requested_by="someone", start=NOW, end=NOW + timedelta(weeks=8), budget=Decimal("100.00"),
                                      spent=Decimal("10.00"), reserved=Decimal("5.50"), revision=3))
        for waiver_id, team, status in (("W-2", "materials-rnd", "approved"), ("W-1", "materials-rnd", "approved"),
                                        ("W-3", "materials-rnd", "requested"), ("W-4", "other-team", "approved")):
            session.add(WaiverRecord(id=waiver_id, rule="SEC-001", team=team, status=status, requested_by="someone",
                                     approver="approver" if status == "approved" else None, reason="because", expires=NOW + timedelta(days=7)))
    yield engine
    engine.dispose()


@pytest.mark.parametrize("lock_sandbox", [False, True])
def test_the_context_holds_the_vendor_the_sandbox_and_every_approved_waiver_of_the_team(database, lock_sandbox):
    with Session(database) as session:
        live = context_for(session, team="materials-rnd", vendor="ibm", sandbox_id="SBX-1", lock_sandbox=lock_sandbox)
    spec = live.context.spec
    assert [vendor.name for vendor in spec.vendors] == ["ibm"] and spec.vendors[0].regions == ["eu"]
    assert [(sandbox.id, sandbox.spent, sandbox.budget) for sandbox in spec.sandboxes] == [("SBX-1", 15.5, 100.0)]
    assert [waiver.id for waiver in spec.waivers] == ["W-1", "W-2"]
    assert live.sandbox_revision == 3


def test_the_context_is_read_in_one_statement(database):
    statements: list[str] = []
    event.listen(database, "before_cursor_execute", lambda _c, _k, statement, *_: statements.append(statement))
    with Session(database) as session:
        context_for(session, team="materials-rnd", vendor="ibm", sandbox_id="SBX-1")
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_another_teams_sandbox_is_left_out_unless_the_caller_may_see_it(database):
    with Session(database) as session:
        hidden = context_for(session, team="materials-rnd", vendor="ibm", sandbox_id="SBX-2")
        shown = context_for(session, team="materials-rnd", vendor="ibm", sandbox_id="SBX-2", may_see=lambda team: team == "other-team")
    assert hidden.context.spec.sandboxes == [] and [s.id for s in shown.context.spec.sandboxes] == ["SBX-2"]


def test_no_vendor_no_sandbox_and_no_waivers_give_an_empty_context(database):
    with Session(database) as session:
        live = context_for(session, team="nobody", vendor="braket", sandbox_id=None)
        missing = context_for(session, team="nobody", vendor="braket", sandbox_id="SBX-404", lock_sandbox=True)
    for context in (live, missing):
        assert (context.context.spec.vendors, context.context.spec.sandboxes, context.context.spec.waivers) == ([], [], [])
        assert context.sandbox_revision is None
