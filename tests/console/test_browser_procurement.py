"""In the browser: a procurement officer requests a sandbox through the form (its dates bounded to 12 weeks),
sees Approve disabled on their own request and is refused if they force it; a colleague approves it and the
page shows it approved; the vendors page; the pages hold at a phone's width."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.console.conftest import Service, sign_in


@pytest.fixture
def procurement(service: Service) -> Service:
    """The service with a vendor on record, put there by procurement through the API."""
    answer = httpx.put(f"{service.url}/v1/vendors/ibm", json={"dataProcessingAgreement": True, "regions": ["us-east"],
                       "priceModel": {"model": "negotiated", "perShot": 0.0005}},
                       headers={"Authorization": f"Bearer {service.token('procurement', 'procurement')}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return service


def fill_request(page, sandbox_id: str, start: date, end: date) -> None:
    page.get_by_label("Sandbox id").fill(sandbox_id)
    page.get_by_label("Team").fill("materials-rnd")
    page.get_by_label("Vendor").select_option("ibm")
    page.get_by_label("Devices").fill("ibm_brisbane")
    page.get_by_label("Budget").fill("25000")
    page.get_by_label("Window start (UTC, from 00:00)").fill(start.isoformat())
    page.get_by_label("Window end (UTC, until 00:00)").fill(end.isoformat())


def test_procurement_approves_a_sandbox_and_the_requester_is_refused(page, procurement, screenshot):
    requester = procurement.token("procurement", "procurement", name="requester")
    sign_in(page, procurement.url, requester, "/ui/sandboxes")
    with page.expect_navigation():
        page.get_by_role("link", name="Request a sandbox").click()
    today = datetime.now(UTC).date()
    end = page.get_by_label("Window end (UTC, until 00:00)")
    later = today + timedelta(days=30)
    page.get_by_label("Window start (UTC, from 00:00)").fill(later.isoformat())
    assert end.get_attribute("max") == (later + timedelta(weeks=12)).isoformat()  # the picker follows the start
    fill_request(page, "SBX-2026-014", today, today + timedelta(weeks=12, days=1))
    assert end.evaluate("input => input.validity.rangeOverflow")  # the browser will not send a 13-week window
    screenshot(page, "request-form")
    end.fill((today + timedelta(weeks=10)).isoformat())
    with page.expect_navigation():
        page.get_by_role("button", name="Request").click()
    assert page.locator("#done").inner_text() == "Sandbox SBX-2026-014 requested."
    approve = page.get_by_role("button", name="Approve")
    assert approve.is_disabled() and "separation of duties" in page.locator("#why-not").inner_text()
    assert "Requested by requester" in page.locator("ol.history").inner_text()
    screenshot(page, "sandbox-requested")

    approve.evaluate("button => { button.disabled = false; }")  # forced past the disabled button: the server refuses
    with page.expect_navigation():
        approve.click()
    assert "separation of duties" in page.get_by_role("alert").inner_text() and "(403)" in page.locator("h1").inner_text()
    page.goto(f"{procurement.url}/ui/sandboxes/SBX-2026-014")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    sign_in(page, procurement.url, procurement.token("procurement", "procurement", name="approver"), "/ui/sandboxes")
    page.get_by_label("Lifecycle").select_option("requested")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert page.locator("table.sandboxes tbody tr").count() == 1
    screenshot(page, "sandboxes")
    with page.expect_navigation():
        page.get_by_role("link", name="SBX-2026-014").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    assert page.locator("#done").inner_text() == "Sandbox SBX-2026-014 approved."
    assert page.locator("h1 .lifecycle").inner_text() == "active"
    history = page.locator("ol.history").inner_text()
    assert "Requested by requester" in history and "Approved by approver" in history
    assert page.get_by_role("button", name="Revoke").is_enabled()
    screenshot(page, "sandbox-approved")

    with page.expect_navigation():
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Vendors").click()
    row = page.locator("table.vendors tbody tr").first
    assert "ibm" in row.inner_text() and "signed" in row.inner_text() and "0.0005 per shot" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "vendors")


def test_the_procurement_pages_hold_at_a_phones_width(narrow_page, procurement, screenshot):
    sign_in(narrow_page, procurement.url, procurement.token("submitter", "materials-rnd"), "/ui/sandboxes/-/new")
    today = datetime.now(UTC).date()
    fill_request(narrow_page, "SBX-NARROW", today, today + timedelta(weeks=8))
    assert narrow_page.evaluate("document.documentElement.scrollWidth") <= 391
    screenshot(narrow_page, "request-form-narrow")
    with narrow_page.expect_navigation():
        narrow_page.get_by_role("button", name="Request").click()
    assert narrow_page.get_by_role("button", name="Approve").is_disabled()
    assert narrow_page.locator("#why-not").inner_text() == "role 'submitter' may not sandbox.approve."  # not separation of duties
    assert narrow_page.evaluate("document.documentElement.scrollWidth") <= 391
    screenshot(narrow_page, "sandbox-narrow")
    narrow_page.goto(f"{procurement.url}/ui/sandboxes")
    assert narrow_page.evaluate("document.documentElement.scrollWidth") <= 391
    screenshot(narrow_page, "sandboxes-narrow")


def fill_criterion(page, row: int, **fields: str) -> None:
    """A criterion row by its labels ("Criterion 2 metric"): text typed, the metric and direction chosen."""
    for name, value in fields.items():
        box = page.get_by_label(f"Criterion {row} {name}")
        if name in ("metric", "direction"):
            box.select_option(value)
        else:
            box.fill(value)


def test_pilot_terms_are_typed_into_fields_for_a_request_and_a_change(page, procurement, screenshot):
    sign_in(page, procurement.url, procurement.token("submitter", "materials-rnd", name="requester"), "/ui/sandboxes/-/new")
    today = datetime.now(UTC).date()
    fill_request(page, "SBX-TERMS", today, today + timedelta(weeks=8))
    page.get_by_label("Pilot objective").fill("Learn whether ibm_brisbane is reliable enough to scale")
    fill_criterion(page, 1, name="jobs-succeed", target="0.9")
    fill_criterion(page, 2, name="bell-pair", metric="outcome_probability", target="0.45", outcome="00", description="half the shots give 00")
    page.get_by_label("Most failed jobs").fill("3")
    page.get_by_label("Count cancelled jobs").check()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "request-with-terms")
    with page.expect_navigation():
        page.get_by_role("button", name="Request").click()
    assert page.locator("#done").inner_text() == "Sandbox SBX-TERMS requested."
    pilot = page.locator("#pilot").inner_text()
    assert "outcome_probability of 00" in pilot and "3 failed jobs" in pilot and "counting failed and cancelled jobs" in pilot

    with page.expect_navigation():
        page.get_by_role("link", name="Propose a change").click()
    assert page.get_by_label("Criterion 2 outcome").input_value() == "00"  # filled in with the current terms
    assert page.get_by_label("Criterion 2 metric").input_value() == "outcome_probability"
    page.get_by_label("Most failed jobs").fill("5")
    fill_criterion(page, 3, name="cheap", metric="cost_per_job", direction="at_most", target="25")
    page.get_by_label("Reason for the change").fill("two more failures are affordable")
    screenshot(page, "propose-change")
    with page.expect_navigation():
        page.get_by_role("button", name="Propose change").click()
    assert page.locator("#term-change-done").inner_text() == "Term change proposed."
    proposal = page.locator("article.amendment").inner_text()
    assert "pending" in proposal and "5 failed jobs" in proposal and "cost_per_job" in proposal
    screenshot(page, "change-proposed")
