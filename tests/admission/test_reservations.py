"""Reservations without the sandbox's row lock: a decision stands when its conditional update finds the
budget still fits and the sandbox unchanged, and is made again under the lock when it does not."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlmodel import Session, col, select

from govern.admission import reproductions, transaction
from govern.admission.transaction import submit
from govern.api import create_app
from govern.db.database import alembic_config, create_db_engine, upgrade
from govern.db.tables import DecisionRecord, JobRecord, LedgerEntry, SandboxRecord, SubmissionRecord, table_of
from govern.records.procurement import decide_sandbox
from govern.settings import Settings
from tests.admission.test_reproduce_guard import PATIENT, reproduce, reproduce_records
from tests.admission.test_submissions_api import funded, vqe_body
from tests.dispatch.test_dispatch import submit as submit_over_http
from tests.dispatch.test_dispatch import worker

pytestmark = pytest.mark.slow

SANDBOX = "SBX-2026-014"


@pytest.fixture
def client(database_url):
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        yield client


def between_read_and_reservation(monkeypatch, change, module=transaction, reader="evaluate_on_live_context") -> list[bool]:
    """Run `change(session)` right after the first read of the live context (by `module.reader`), as another
    request would between the unlocked read and the reservation; returns each read's `lock_sandbox`."""
    real = getattr(module, reader)
    locks: list[bool] = []

    def evaluate(session, *args, lock_sandbox, **kwargs):
        evaluation = real(session, *args, lock_sandbox=lock_sandbox, **kwargs)
        locks.append(lock_sandbox)
        if len(locks) == 1:
            change(session)
        return evaluation

    monkeypatch.setattr(module, reader, evaluate)
    return locks


def submitted(app):
    """One submission of the VQE example through the admission transaction, committed."""
    body = vqe_body()
    with Session(app.state.db) as session:
        result = submit(session, app.state.checker, app.state.engine, body["manifest"], body["circuit"], actor="submitter-1",
                        idempotency_key=None, max_circuit_bytes=1_000_000, bundle_data=app.state.bundle.data)
        session.commit()
    return result


def recorded(app) -> tuple[SandboxRecord, list[LedgerEntry], list[DecisionRecord], list[JobRecord]]:
    with Session(app.state.db) as session:
        return (session.get(SandboxRecord, SANDBOX), list(session.exec(select(LedgerEntry))),
                list(session.exec(select(DecisionRecord).where(DecisionRecord.kind == "submission"))), list(session.exec(select(JobRecord))))


def test_a_sandbox_revoked_between_decision_and_reservation_is_decided_again_and_denied(client, monkeypatch):
    funded(client, "100.00")
    locks = between_read_and_reservation(monkeypatch, lambda session: decide_sandbox(session, SANDBOX, "revoke", "procurement-1"))
    result = submitted(client.app)
    assert locks == [False, True]
    assert result.submission.outcome == "denied" and "PR-002" in [finding.rule for finding in result.decision.deny]
    sandbox, ledger, decisions, jobs = recorded(client.app)
    assert sandbox.status == "revoked" and sandbox.reserved == Decimal("0.00")
    assert ledger == [] and jobs == []
    assert [(d.decision_id, d.outcome) for d in decisions] == [(result.decision.decision_id, "denied")]  # the final decision only


def test_a_budget_taken_between_decision_and_reservation_is_decided_again_and_denied(client, monkeypatch):
    funded(client, "10.00")  # room for two runs at 4.80
    sandboxes = table_of(SandboxRecord)
    another_reservation = update(sandboxes).where(sandboxes.c.id == SANDBOX).values(reserved=sandboxes.c.reserved + Decimal("6.00"))
    locks = between_read_and_reservation(monkeypatch, lambda session: session.execute(another_reservation))
    result = submitted(client.app)
    assert locks == [False, True]
    assert [finding.rule for finding in result.decision.deny] == ["PR-005"]
    sandbox, ledger, decisions, jobs = recorded(client.app)
    assert sandbox.reserved == Decimal("6.00") and ledger == [] and jobs == []
    assert [(d.decision_id, d.outcome) for d in decisions] == [(result.decision.decision_id, "denied")]


def test_a_reproduction_whose_sandbox_is_revoked_before_its_reservation_is_decided_again_and_denied(client, monkeypatch):
    submitter = funded(client, "100.00")
    submission_id = submit_over_http(client, submitter, vqe_body())
    worker(client, options=PATIENT).run_until_idle()
    locks = between_read_and_reservation(monkeypatch, lambda session: decide_sandbox(session, SANDBOX, "revoke", "procurement-1"),
                                         reproductions, "_on_live_context")
    denied = reproduce(client, submission_id, submitter)
    assert locks == [False, True]
    assert denied.status_code == 403 and "PR-002" in [finding["rule"] for finding in denied.json()["decision"]["deny"]]
    assert [record.outcome for record in reproduce_records(client)] == ["denied"]
    sandbox, ledger, _, jobs = recorded(client.app)
    assert sandbox.status == "revoked" and sandbox.reserved == Decimal("0.00") and len(jobs) == 1
    assert [entry.kind for entry in ledger] == ["reserve", "release", "charge"]  # the original run's only


def test_money_moved_by_others_leaves_a_decision_that_still_fits_standing(client, monkeypatch):
    """Reservations are money, not a change to the sandbox: a decision whose cost still fits is not re-made."""
    funded(client, "100.00")
    sandboxes = table_of(SandboxRecord)
    another_reservation = update(sandboxes).where(sandboxes.c.id == SANDBOX).values(reserved=sandboxes.c.reserved + Decimal("4.80"))
    locks = between_read_and_reservation(monkeypatch, lambda session: session.execute(another_reservation))
    result = submitted(client.app)
    assert locks == [False]
    assert result.submission.outcome == "allowed"
    sandbox, ledger, decisions, jobs = recorded(client.app)
    assert sandbox.reserved == Decimal("9.60") and [entry.amount for entry in ledger] == [Decimal("4.80")]
    assert len(decisions) == len(jobs) == 1


def test_status_changes_bump_the_revision_and_money_does_not(client):
    funded(client, "100.00")
    app = client.app

    def revision() -> int:
        with Session(app.state.db) as session:
            return session.get(SandboxRecord, SANDBOX).revision

    assert revision() == 1  # requested at 0, approved
    assert submitted(app).submission.outcome == "allowed"
    assert revision() == 1
    with Session(app.state.db) as session:
        decide_sandbox(session, SANDBOX, "revoke", "procurement-1")
        session.commit()
    assert revision() == 2
    assert submitted(app).submission.outcome == "denied"
    with Session(app.state.db) as session:
        assert session.exec(select(SubmissionRecord.outcome).order_by(col(SubmissionRecord.number))).all() == ["allowed", "denied"]


def test_migration_0013_gives_existing_sandboxes_revision_zero_and_downgrades(database_url):
    engine = create_db_engine(database_url)
    try:
        upgrade(engine, "0012")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO vendors (name, approved, data_processing_agreement, regions, updated_at) "
                                    "VALUES ('ibm', true, true, '[]', CURRENT_TIMESTAMP)"))
            connection.execute(text(
                "INSERT INTO sandboxes (id, team, vendor, devices, status, requested_by, start, \"end\", budget, spent, reserved, "
                "currency, allows_confidential, created_at) VALUES ('SBX-OLD', 'materials-rnd', 'ibm', '[]', 'approved', 'someone', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 10, 0, 0, 'USD', false, CURRENT_TIMESTAMP)"
            ))
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT revision FROM sandboxes WHERE id = 'SBX-OLD'")).scalar_one() == 0
        command.downgrade(alembic_config(engine), "0012")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT id FROM sandboxes")).scalars().all() == ["SBX-OLD"]
            with pytest.raises(Exception, match="revision"):
                connection.execute(text("SELECT revision FROM sandboxes"))
    finally:
        engine.dispose()
