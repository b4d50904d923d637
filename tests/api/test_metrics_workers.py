"""/metrics under `govern serve --workers 2`: counters summed over the server processes (Prometheus
multiprocess mode), whichever process answers the scrape."""

from __future__ import annotations

import re

import httpx
import pytest

from govern.db.database import create_db_engine, session_scope
from govern.db.public import TokenCreate
from govern.records.tokens import create_token
from tests.api.test_api import example
from tests.live_service import running_service

pytestmark = pytest.mark.slow

CHECKS = 24


def check_decisions(text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("govern_decisions_total{") and 'kind="check"' in line)


@pytest.fixture
def two_process_service(postgres_admin):
    from benchmarks.scratch import scratch_database

    with scratch_database(postgres_admin.render_as_string(hide_password=False), "govern_test") as database_url:
        with running_service(database_url, args=("--workers", "2")) as url:
            engine = create_db_engine(database_url)
            with session_scope(engine) as session:
                token = create_token(session, TokenCreate(role="admin", team="ops", name="scraper"))[1]
            engine.dispose()
            yield url, {"Authorization": f"Bearer {token}"}


def test_decision_counters_sum_over_the_server_processes(two_process_service):
    url, headers = two_process_service
    manifest, circuit = example("bell-local")
    # a connection per request, so that both processes take some (one kept-alive connection stays with one)
    with httpx.Client(base_url=url, headers={**headers, "Connection": "close"}, timeout=60) as client:
        for _ in range(CHECKS):
            assert client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}).status_code == 200
        scrapes = [client.get("/metrics").text for _ in range(8)]
    assert [check_decisions(text) for text in scrapes] == [CHECKS] * len(scrapes)
    for text in scrapes:
        builds = [line for line in text.splitlines() if line.startswith("govern_build_info{")]
        assert len({re.search(r'pid="(\d+)"', line).group(1) for line in builds}) == 2  # one per live process
        revisions = set(re.findall(r'govern_policy_bundle_info\{[^}]*revision="([^"]+)"[^}]*\} 1\.0', text))
        assert len(revisions) == 1
