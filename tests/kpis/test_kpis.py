"""The KPIs on SQLite and PostgreSQL, over a small history seeded through the real paths: a sandbox
requested and approved, submissions allowed and denied, jobs run by the worker, a fallback, reproductions
that matched and one that did not. Times the measures subtract are pinned afterwards, so the durations are
exact rather than however long the test took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from govern import kpis
from govern.api import create_app
from govern.audit.record_format import as_utc
from govern.backends.base import BackendError
from govern.backends.registry import get_backend
from govern.db.tables import JobRecord, SandboxRecord
from govern.settings import Settings
from tests.admission.test_submissions_api import funded, vqe_body
from tests.api.test_api import auth, example, token_for
from tests.dispatch.test_dispatch import Unavailable, submit, worker
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow


@pytest.fixture
def client(database_url):
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        yield client


class Refusing(Unavailable):
    """A simulator that refuses every job (a reproduction run on it gives no result)."""

    key, simulator = "local/aer_simulator", True

    def availability(self):
        return get_backend("local", "aer_simulator").availability()

    def submit(self, request):
        raise BackendError("the simulator refused the job")


def bell() -> dict:
    manifest, circuit = example("bell-local")
    return {"manifest": manifest, "circuit": circuit}


def seed(client) -> dict[str, str]:
    """materials-rnd: an approved sandbox and a VQE run that falls back (its device is down). platform-qa: a
    sandbox approved then revoked, one only requested, two Bell runs, the first reproduced twice (matched,
    then refused by the simulator), a denied check and a denied submission. Then the times the measures
    subtract are pinned: sandboxes approved 3600 s (materials-rnd) and 600 s (platform-qa) after their
    request, platform-qa's jobs queued 10, 20, 30 and 40 s, materials-rnd's fallback 100 s."""
    materials = funded(client, "100.00")
    submit(client, materials, vqe_body())
    assert worker(client, lambda v, d, **o: Unavailable() if v == "ibm" else get_backend(v, d, **o)).run_until_idle() == 2
    qa = auth(token_for(client, "submitter", "platform-qa"))
    procurement = auth(token_for(client, "procurement", "procurement"))
    for sandbox in ("SBX-QA-1", "SBX-QA-2"):
        assert client.post("/v1/sandboxes", json=sandbox_request(id=sandbox, team="platform-qa"), headers=qa).status_code == 201
    for action in ("approve", "revoke"):
        assert client.post(f"/v1/sandboxes/SBX-QA-1/{action}", headers=procurement).status_code == 200
    first, _ = (submit(client, qa, bell()) for _ in range(2))
    assert worker(client).run_until_idle() == 2
    assert client.post(f"/v1/submissions/{first}/reproduce", headers=qa).status_code == 202
    assert worker(client).run_until_idle() == 1
    assert client.post(f"/v1/submissions/{first}/reproduce", headers=qa).status_code == 202
    assert worker(client, lambda v, d, **o: Refusing()).run_until_idle() == 1
    manifest, circuit = example("unknown-backend")
    assert client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=qa).json()["outcome"] == "denied"
    assert client.post("/v1/submissions", json={"manifest": manifest, "circuit": circuit}, headers=qa).status_code == 403
    pin_times(client)
    return {"materials": materials, "qa": qa, "procurement": procurement}


def pin_times(client) -> None:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with Session(client.app.state.db) as session:
        for sandbox, lead in (("SBX-2026-014", 3600), ("SBX-QA-1", 600)):
            row = session.get(SandboxRecord, sandbox)
            row.created_at = as_utc(row.approved_at) - timedelta(seconds=lead)
            session.add(row)
        started_jobs = session.exec(select(JobRecord).where(col(JobRecord.started_at).is_not(None)).order_by(col(JobRecord.created_at))).all()
        waits = iter([100, 10, 20, 30, 40])  # the fallback ran first
        for job in started_jobs:
            job.started_at, job.created_at = started, started - timedelta(seconds=next(waits))
            session.add(job)
        session.commit()


def durations(count, median, p90) -> dict:
    return {"count": count, "median_s": median, "p90_s": p90}


MATERIALS = {
    "reproducibility": {"attempted": 0, "matched": 0, "rate": None},
    "procurement_lead_time": durations(1, 3600.0, 3600.0),
    "pilots": [0, 1],
    "queue_wait": [{"backend": "local/aer_simulator", **durations(1, 100.0, 100.0)}],
    "backend_availability": {"jobs": 1, "ran_where_asked": 0, "share": 0.0, "fallbacks": {"unavailable": 1}},
    "decisions": {"allowed": 1, "warned": 0, "denied": 0, "total": 1},
    "top_deny_rules": [],
}
QA = {
    "reproducibility": {"attempted": 2, "matched": 1, "rate": 0.5},
    "procurement_lead_time": durations(1, 600.0, 600.0),
    "pilots": [0, 1],  # approved, then revoked in the quarter
    "queue_wait": [{"backend": "local/aer_simulator", **durations(4, 25.0, 37.0)}],  # 10, 20, 30, 40 s: 30 + 0.7 × 10
    "backend_availability": {"jobs": 2, "ran_where_asked": 2, "share": 1.0, "fallbacks": {}},
    "decisions": {"allowed": 4, "warned": 0, "denied": 2, "total": 6},  # 2 submissions and 2 reproductions allowed
    "top_deny_rules": [{"rule": "SEC-008", "decisions": 2}],
}
OVERALL = {
    "reproducibility": {"attempted": 2, "matched": 1, "rate": 0.5},
    "procurement_lead_time": durations(2, 2100.0, 3300.0),  # 600 + 0.9 × 3000
    "pilots": [0, 2],
    "queue_wait": [{"backend": "local/aer_simulator", **durations(5, 30.0, 76.0)}],  # 40 + 0.6 × 60
    "backend_availability": {"jobs": 3, "ran_where_asked": 2, "share": 2 / 3, "fallbacks": {"unavailable": 1}},
    "decisions": {"allowed": 5, "warned": 0, "denied": 2, "total": 7},
    "top_deny_rules": [{"rule": "SEC-008", "decisions": 2}],
}


def shown(measures: dict) -> dict:
    """A report's measures with each quarter's pilots as a list, the quarters being the window's."""
    return {**{k: v for k, v in measures.items() if k != "pilots_per_quarter"},
            "pilots": [quarter["active"] for quarter in measures["pilots_per_quarter"]]}


def test_the_measures_match_the_seeded_history_overall_and_per_team(client):
    seed(client)
    window = kpis.Window.of(None, None, now=datetime.now(UTC) + timedelta(minutes=1))
    assert [label for label, _, _ in window.quarters()] == [quarter_label(window.since), quarter_label(window.until)]
    with Session(client.app.state.db) as session:
        report = kpis.report(session, window).model_dump(mode="json")
        confined = kpis.report(session, window, "platform-qa").model_dump(mode="json")
    assert shown(report["overall"]) == OVERALL
    assert {team: shown(measures) for team, measures in report["teams"].items()} == {"materials-rnd": MATERIALS, "platform-qa": QA}
    assert confined["team"] == "platform-qa" and list(confined["teams"]) == ["platform-qa"]
    assert shown(confined["overall"]) == QA
    with Session(client.app.state.db) as session:
        earlier = kpis.report(session, kpis.Window.of(window.since - timedelta(days=30), window.since)).model_dump(mode="json")
    assert earlier["teams"] == {} and earlier["overall"]["decisions"]["total"] == 0
    assert earlier["overall"]["procurement_lead_time"] == durations(0, None, None)


def quarter_label(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def test_the_route_answers_the_same_report_confined_to_what_the_token_may_read(client):
    seeded = seed(client)
    admin = auth(token_for(client, "admin", "ops"))
    everything = client.get("/v1/kpis", headers=admin)
    assert everything.status_code == 200, everything.json()
    assert shown(everything.json()["overall"]) == OVERALL and everything.json()["team"] is None
    assert set(client.get("/v1/kpis", headers=seeded["procurement"]).json()["teams"]) == {"materials-rnd", "platform-qa"}
    own = client.get("/v1/kpis", headers=seeded["qa"]).json()
    assert own["team"] == "platform-qa" and shown(own["overall"]) == QA and list(own["teams"]) == ["platform-qa"]
    assert client.get("/v1/kpis", params={"team": "materials-rnd"}, headers=seeded["qa"]).status_code == 403
    assert client.get("/v1/kpis", params={"team": "materials-rnd"}, headers=admin).json()["overall"]["decisions"]["total"] == 1
    assert client.get("/v1/kpis").status_code == 401


@pytest.mark.parametrize("params, problem", [
    ({"since": "2026-06-01T00:00:00Z", "until": "2026-05-01T00:00:00Z"}, "must be before until"),
    ({"since": "2026-05-01T00:00:00Z", "until": "2026-05-01T00:00:00Z"}, "must be before until"),
    ({"since": "2020-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "at most 1830 (five years)"),
    ({"since": "yesterday"}, "datetime"),
    ({"team": "x" * 64}, "at most 63 characters"),
])
def test_a_bad_window_or_team_is_a_422(client, params, problem):
    response = client.get("/v1/kpis", params=params, headers=auth(token_for(client, "admin", "ops")))
    assert response.status_code == 422 and problem in response.text
