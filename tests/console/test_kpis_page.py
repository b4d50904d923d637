"""The console's KPI page, in-process on SQLite and PostgreSQL: over the seeded history of tests/kpis its
tables show the numbers `GET /v1/kpis` answers for the same window and team, its charts carry the same figures
as JSON data, a submitter sees only their team, and a bad window or team is a page with the API's status."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.console.routes.kpis import ALL_TEAMS
from govern.settings import Settings
from tests.console.test_console_session import sign_in, token_for
from tests.kpis.test_kpis import seed

pytestmark = pytest.mark.slow

TABLES = ("reproducibility", "lead-time", "pilots", "queue-wait", "availability", "decisions", "deny-rules")


@pytest.fixture
def client(database_url):
    app = create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def first_number(text: str) -> float | None:
    """A cell's number (a count, seconds, a percentage); None for a cell without one (`–`, nothing to divide by)."""
    found = re.search(r"-?\d+(?:\.\d+)?", text)
    return float(found.group()) if found else None


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def expected_tables(api: dict[str, Any]) -> dict[str, dict[str, list[float | None]]]:
    """What each table of the page must show for a `GET /v1/kpis` answer: row heading → the cells' numbers."""
    rows = list(api["teams"].items())
    if len(rows) != 1:
        rows.append((ALL_TEAMS, api["overall"]))
    overall = api["overall"]
    available = overall["backend_availability"]

    def durations(figures: dict[str, Any]) -> list[float | None]:
        return [figures["count"], figures["median_s"], figures["p90_s"]]

    return {
        "reproducibility": {name: [m["reproducibility"]["attempted"], m["reproducibility"]["matched"], _percent(m["reproducibility"]["rate"])]
                            for name, m in rows},
        "lead-time": {name: durations(m["procurement_lead_time"]) for name, m in rows},
        "pilots": {quarter["quarter"]: [quarter["active"]] for quarter in overall["pilots_per_quarter"]},
        "queue-wait": {wait["backend"]: durations(wait) for wait in overall["queue_wait"]},
        "availability": {"ended": [available["jobs"], None], "ran where asked": [available["ran_where_asked"], _percent(available["share"])],
                         **{f"fell back: {cause}": [count, None] for cause, count in available["fallbacks"].items()}},
        "decisions": {name: [m["decisions"][outcome] for outcome in ("allowed", "warned", "denied", "total")] for name, m in rows},
        "deny-rules": {rule["rule"]: [rule["decisions"]] for rule in overall["top_deny_rules"]},
    }


def shown_tables(rows_of: dict[str, list[list[str]]]) -> dict[str, dict[str, list[float | None]]]:
    """Each measure's table's rows (their cells' text, the heading first) as row heading → the cells' numbers;
    a row saying there is nothing (one cell) is no row."""
    return {table: {cells[0].strip(): [first_number(cell) for cell in cells[1:]] for cells in rows if len(cells) > 1}
            for table, rows in rows_of.items() if table in TABLES}


class Tables(HTMLParser):
    """The text of each cell of each `<table id="table-…">`'s body rows (stdlib: no HTML parser in the lock)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self.table: str | None = None
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs).get("id") or ""
        if tag == "table" and named.startswith("table-"):
            self.table = named.removeprefix("table-")
            self.rows[self.table] = []
        elif self.table and tag == "tbody":
            self.in_body = True
        elif self.table and self.in_body and tag == "tr":
            self.rows[self.table].append([])
        elif self.table and self.in_body and tag in ("th", "td"):
            self.rows[self.table][-1].append("")
        elif tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self.in_body = False
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.table and self.in_body and self.rows[self.table] and self.rows[self.table][-1]:
            self.rows[self.table][-1][-1] += data


def tables_of(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return {table: [[" ".join(cell.split()) for cell in cells] for cells in rows] for table, rows in parser.rows.items()}


def chart_data(page: str) -> list[dict[str, Any]]:
    found = re.search(r'<script type="application/json" id="kpi-data">(.*?)</script>', page, re.S)
    assert found, "the page carries no chart data"
    return json.loads(found.group(1))


def window() -> dict[str, str]:
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    return {"since": (until - timedelta(days=90)).isoformat(), "until": until.isoformat()}


def test_compliance_sees_the_numbers_the_api_answers_for_the_window(client):
    seed(client)
    compliance = token_for(client, "compliance", "audit")
    sign_in(client, compliance)
    asked = window()
    api = client.get("/v1/kpis", params=asked, headers={"Authorization": f"Bearer {compliance}"}).json()
    page = client.get("/ui/kpis", params=asked)
    assert page.status_code == 200, page.text
    shown = shown_tables(tables_of(page.text))
    assert shown == expected_tables(api)
    assert shown["lead-time"] == {"materials-rnd": [1, 3600.0, 3600.0], "platform-qa": [1, 600.0, 600.0], ALL_TEAMS: [2, 2100.0, 3300.0]}
    assert shown["deny-rules"] == {"SEC-008": [2]}
    teams = {cells[0]: cells[1:] for cells in tables_of(page.text)["teams"]}
    assert list(teams) == ["materials-rnd", "platform-qa", ALL_TEAMS]
    assert teams["platform-qa"][:2] == ["50.0 % (1 of 2)", "600.0 s · 600.0 s"]
    assert teams["materials-rnd"][4] == "0.0 % (0 of 1) fell back: unavailable: 1"
    charts = {chart["id"]: chart for chart in chart_data(page.text)}
    assert set(charts) == set(TABLES)
    assert charts["reproducibility"]["labels"] == ["materials-rnd", "platform-qa", ALL_TEAMS]
    assert charts["reproducibility"]["series"][0]["values"] == [None, 50.0, 50.0]
    assert charts["queue-wait"]["series"][1]["values"] == [76.0]
    link = unescape(re.search(r'id="kpi-json" href="([^"]+)"', page.text).group(1))
    assert client.get(link, headers={"Authorization": f"Bearer {compliance}"}).json() == api
    denials = unescape(re.search(r'href="(/ui/decisions\?[^"]*rule=SEC-008[^"]*)"', page.text).group(1))
    listed = client.get(denials)  # the window's denials by that rule, as many as the KPI counts
    assert "since=" in denials and "until=" in denials and listed.status_code == 200
    assert listed.text.count('<span class="outcome denied">') == 2


def test_the_default_window_and_a_team_are_the_apis(client):
    seed(client)
    compliance = token_for(client, "compliance", "audit")
    sign_in(client, compliance)
    page = client.get("/ui/kpis", params={"team": "platform-qa"})
    assert page.status_code == 200 and "Team platform-qa" in page.text
    link = unescape(re.search(r'id="kpi-json" href="([^"]+)"', page.text).group(1))
    api = client.get(link, headers={"Authorization": f"Bearer {compliance}"}).json()
    assert api["team"] == "platform-qa" and list(api["teams"]) == ["platform-qa"]
    assert (datetime.fromisoformat(api["until"]) - datetime.fromisoformat(api["since"])).days == 90
    assert shown_tables(tables_of(page.text)) == expected_tables(api)
    assert shown_tables(tables_of(page.text))["decisions"] == {"platform-qa": [4, 0, 2, 6]}


def test_a_submitter_sees_only_their_team(client):
    seed(client)
    submitter = token_for(client, "submitter", "materials-rnd")
    sign_in(client, submitter, "/ui/kpis")
    page = client.get("/ui/kpis")
    assert page.status_code == 200 and "Team materials-rnd" in page.text and "platform-qa" not in page.text
    api = client.get("/v1/kpis", params={"team": "materials-rnd"}, headers={"Authorization": f"Bearer {submitter}"}).json()
    assert shown_tables(tables_of(page.text))["decisions"] == expected_tables(api)["decisions"] == {"materials-rnd": [1, 0, 0, 1]}
    refused = client.get("/ui/kpis", params={"team": "platform-qa"})
    assert refused.status_code == 403 and "platform-qa" not in chart_data_or_empty(refused.text)


def chart_data_or_empty(page: str) -> str:
    return page.split('id="kpi-data"', 1)[1] if 'id="kpi-data"' in page else ""


def test_bad_windows_and_teams_are_pages_with_the_apis_status(client):
    sign_in(client, token_for(client, "compliance", "audit"))
    for params in ({"since": "2026-05-01T00:00:00", "until": "2026-04-01T00:00:00"},
                   {"since": "2000-01-01T00:00:00", "until": "2026-01-01T00:00:00"},
                   {"since": "not a time"}, {"until": "9999-12-31T23:59:59-05:00"}, {"team": "x" * 64}):
        page = client.get("/ui/kpis", params=params)
        assert page.status_code == 422, (params, page.status_code)
        assert "<h1>" in page.text and "Traceback" not in page.text
    blank = client.get("/ui/kpis", params={"team": "", "since": "", "until": ""})
    assert blank.status_code == 200 and "Every team" in blank.text
    assert shown_tables(tables_of(blank.text))["decisions"] == {ALL_TEAMS: [0, 0, 0, 0]}


def test_a_signed_out_browser_is_sent_to_sign_in_and_procurement_reads_every_team(client):
    assert client.get("/ui/kpis", follow_redirects=False).headers["location"] == "/ui/login?next=%2Fui%2Fkpis"
    sign_in(client, token_for(client, "procurement", "procurement"))
    page = client.get("/ui/kpis")
    assert page.status_code == 200 and "Every team" in page.text and 'href="/ui/kpis"' in page.text  # in the menu
