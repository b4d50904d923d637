"""In the browser: compliance signs in, searches the decisions, opens a denial, verifies its record and
replays it; a submitter sees only their team; the pages hold at a phone's width."""

from __future__ import annotations

import httpx
import pytest

from govern.audit.checkpoint import generate_key
from tests.api.test_api import example
from tests.console.conftest import Service, sign_in
from tests.live_service import running_service


@pytest.fixture
def audited_service(tmp_path):
    """`govern serve` with an audit signing key, and two teams' decisions in its log."""
    key = tmp_path / "audit.pem"
    generate_key(key)
    database_url = f"sqlite:///{tmp_path / 'govern.db'}"
    with running_service(database_url, env={"GOVERN_AUDIT_SIGNING_KEY": str(key)}) as url:
        service = Service(url, database_url)
        for team, name in (("platform-qa", "unknown-backend"), ("platform-qa", "bell-local"), ("materials-rnd", "bell-local")):
            manifest, circuit = example(name)
            manifest["metadata"]["team"] = team
            secret = service.token("submitter", team)
            answer = httpx.post(f"{url}/v1/check", json={"manifest": manifest, "circuit": circuit},
                                headers={"Authorization": f"Bearer {secret}"}, timeout=30)
            assert answer.status_code == 200, answer.text
        yield service


def test_compliance_follows_a_denial_verifies_its_record_and_replays_it(page, audited_service, screenshot):
    sign_in(page, audited_service.url, audited_service.token("compliance", "audit"), "/ui/decisions")
    assert page.get_by_role("heading", name="Decisions").is_visible()
    assert page.locator("table.list tbody tr").count() == 3
    screenshot(page, "decisions")
    page.get_by_label("Outcome").select_option("denied")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1 and "SEC-008" in rows.first.inner_text()
    with page.expect_navigation():
        rows.first.get_by_role("link").click()
    assert page.get_by_role("heading", name="Denied by").is_visible()
    assert "SEC-008" in page.locator(".findings.deny").inner_text()
    assert page.locator(".remediation").first.inner_text().strip()
    with page.expect_navigation():
        page.get_by_role("button", name="Verify this record").click()
    assert "is in the log" in page.locator("#verification").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="Replay on its bundle revision").click()
    assert "Replayed identically" in page.locator("#replay").inner_text()
    screenshot(page, "decision")


def test_a_submitter_sees_only_their_teams_decisions_and_can_sign_out(page, audited_service):
    sign_in(page, audited_service.url, audited_service.token("submitter", "materials-rnd"))
    assert page.locator("table.list tbody tr").count() == 1
    assert "Audit" not in page.get_by_role("navigation", name="Console").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert page.get_by_role("heading", name="Sign in").is_visible()
    page.goto(f"{audited_service.url}/ui/decisions")
    assert "/ui/login" in page.url


def test_the_pages_hold_at_a_phones_width(narrow_page, audited_service, screenshot):
    sign_in(narrow_page, audited_service.url, audited_service.token("compliance", "audit"))
    width = narrow_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the decisions page scrolls sideways at 390 px ({width} px wide)"
    screenshot(narrow_page, "decisions-narrow")
    with narrow_page.expect_navigation():
        narrow_page.locator("table.list tbody tr a").first.click()
    assert narrow_page.evaluate("document.documentElement.scrollWidth") <= 391
    screenshot(narrow_page, "decision-narrow")
