"""64 clients submit at once against one sandbox over real HTTP to a live `govern serve`: the budget is
spent exactly, never overspent, and every submission has exactly one decision on the verified log."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from sqlmodel import Session, select

from govern.audit.log import verify
from govern.db.database import create_db_engine, session_scope
from govern.db.public import TokenCreate
from govern.db.tables import DecisionRecord, JobRecord, LedgerEntry, SandboxRecord, SubmissionRecord
from govern.records.tokens import create_token
from tests.admission.test_submissions_api import vqe_body
from tests.live_service import running_service
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow

CLIENTS = 64
COST = Decimal("4.80")  # the VQE example's estimate on ibm_brisbane
FITS = 10
BUDGET = "50.00"  # room for exactly FITS runs, with slack below an eleventh


def test_64_concurrent_clients_spend_one_sandbox_exactly(database_url):
    args = ("--workers", "2") if database_url.startswith("postgresql") else ()  # on PostgreSQL across processes too
    with running_service(database_url, args=args) as url:
        engine = create_db_engine(database_url)
        with session_scope(engine) as session:
            procurement, submitter = (
                {"Authorization": f"Bearer {create_token(session, TokenCreate(role=role, team=team, name=role))[1]}"}
                for role, team in (("procurement", "procurement"), ("submitter", "materials-rnd"))
            )
        httpx.put(f"{url}/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=procurement).raise_for_status()
        httpx.post(f"{url}/v1/sandboxes", json=sandbox_request(budget=BUDGET), headers=submitter).raise_for_status()
        httpx.post(f"{url}/v1/sandboxes/SBX-2026-014/approve", headers=procurement).raise_for_status()
        barrier = threading.Barrier(CLIENTS)
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        with httpx.Client(base_url=url, headers=submitter, timeout=180, limits=limits) as http:

            def one(_: int) -> httpx.Response:
                barrier.wait()
                return http.post("/v1/submissions", json=vqe_body())

            with ThreadPoolExecutor(CLIENTS) as pool:
                responses = list(pool.map(one, range(CLIENTS)))

    try:
        assert sorted(r.status_code for r in responses) == [201] * FITS + [403] * (CLIENTS - FITS), [r.text for r in responses][:3]
        answers = [r.json() for r in responses]
        for answer in answers:
            if answer["submission"]["outcome"] == "denied":
                assert [finding["rule"] for finding in answer["decision"]["deny"]] == ["PR-005"]
        allowed = {a["submission"]["id"] for a in answers if a["submission"]["outcome"] != "denied"}
        with Session(engine) as session:
            sandbox = session.get(SandboxRecord, "SBX-2026-014")
            assert sandbox.reserved == FITS * COST and sandbox.reserved + sandbox.spent <= sandbox.budget
            ledger = session.exec(select(LedgerEntry)).all()
            assert sorted((entry.kind, entry.amount) for entry in ledger) == [("reserve", COST)] * FITS
            assert {entry.submission_id for entry in ledger} == allowed
            assert {job.submission_id for job in session.exec(select(JobRecord))} == allowed
            submissions = session.exec(select(SubmissionRecord)).all()
            logged = session.exec(select(DecisionRecord.decision_id).where(DecisionRecord.kind == "submission")).all()
            assert len(submissions) == len(logged) == CLIENTS
            assert sorted(logged) == sorted(row.decision_id for row in submissions) == sorted(a["decision"]["decision_id"] for a in answers)
            verification = verify(session)
            assert verification.ok, verification.problem
    finally:
        engine.dispose()
