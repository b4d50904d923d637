"""In the browser: over the seeded history of tests/kpis, compliance chooses a window on the KPI page and sees
in every table the numbers `GET /v1/kpis` answers for it, with every chart drawn (and no script or CSP error);
the page holds at a phone's width; a submitter sees only their team's figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.settings import Settings
from tests.console.conftest import Service, sign_in
from tests.console.test_kpis_page import TABLES, expected_tables, shown_tables
from tests.kpis.test_kpis import seed
from tests.live_service import running_service

ROWS = """tables => Object.fromEntries(tables.map(table => [table.id.slice("table-".length),
  [...table.tBodies[0].rows].map(row => [...row.cells].map(cell => cell.innerText))]))"""


@pytest.fixture(scope="module")
def kpi_service(tmp_path_factory) -> Iterator[Service]:
    """tests/kpis' history (two teams' sandboxes, jobs, a fallback, reproductions, denials, with pinned
    durations), seeded in-process, then served by `govern serve` on the same SQLite database."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('kpis') / 'govern.db'}"
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        seed(client)
    with running_service(database_url) as url:
        yield Service(url, database_url)


def window() -> dict[str, str]:
    """The 90 days to a minute from now, to the second, as a datetime-local field takes it (UTC)."""
    until = datetime.now(UTC).replace(microsecond=0, tzinfo=None) + timedelta(minutes=1)
    return {"since": (until - timedelta(days=90)).isoformat(), "until": until.isoformat()}


def show_window(page, service: Service, secret: str, asked: dict[str, str]) -> dict[str, Any]:
    """Sign in, open KPIs from the menu, choose the window in the form; the API's answer for that window."""
    sign_in(page, service.url, secret)
    with page.expect_navigation():
        page.get_by_role("navigation", name="Console").get_by_role("link", name="KPIs").click()
    page.get_by_label("Since (UTC").fill(asked["since"])
    page.get_by_label("Until (UTC").fill(asked["until"])
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert page.get_by_role("heading", name="KPIs", exact=True).is_visible()
    answer = httpx.get(f"{service.url}/v1/kpis", params=asked, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def shown(page) -> dict[str, dict[str, list[float | None]]]:
    rows = page.locator("table[id^='table-']").evaluate_all(ROWS)
    return shown_tables({table: [[" ".join(cell.split()) for cell in cells] for cells in body] for table, body in rows.items()})


def charts_drawn(page) -> int:
    page.wait_for_function("() => window.Chart && Object.keys(window.Chart.instances).length > 0")
    return page.evaluate("() => Object.keys(window.Chart.instances).length")


def test_compliance_sees_the_kpis_the_api_answers_for_the_window(page, kpi_service, screenshot):
    api = show_window(page, kpi_service, kpi_service.token("compliance", "audit"), window())
    assert set(api["teams"]) == {"materials-rnd", "platform-qa"}
    assert shown(page) == expected_tables(api)
    assert shown(page)["queue-wait"] == {"local/aer_simulator": [5, 30.0, 76.0]}
    assert charts_drawn(page) == len(TABLES)
    assert page.locator("#kpi-json").get_attribute("href").startswith("/v1/kpis?since=")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "kpis")


def test_the_kpi_page_holds_at_a_phones_width(narrow_page, kpi_service, screenshot):
    api = show_window(narrow_page, kpi_service, kpi_service.token("compliance", "audit"), window())
    assert shown(narrow_page) == expected_tables(api)
    assert charts_drawn(narrow_page) == len(TABLES)
    width = narrow_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the KPI page scrolls sideways at 390 px ({width} px wide)"
    screenshot(narrow_page, "kpis-narrow")


def test_a_submitter_sees_only_their_teams_kpis(page, kpi_service, screenshot):
    api = show_window(page, kpi_service, kpi_service.token("submitter", "platform-qa"), window())
    assert api["team"] == "platform-qa" and list(api["teams"]) == ["platform-qa"]
    assert shown(page) == expected_tables(api)
    assert shown(page)["decisions"] == {"platform-qa": [4, 0, 2, 6]}
    assert "materials-rnd" not in page.locator("main").inner_text()
    screenshot(page, "kpis-submitter")
