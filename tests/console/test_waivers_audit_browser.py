"""Compliance's audit task in Chromium against a real `govern serve`: sign in, approve a team's waiver on the
Waivers page, open Audit, click Verify and see the log verified; screenshots of both pages, desktop and narrow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.api.test_api import example


def sign_in(page, url: str, token: str, path: str) -> None:
    page.goto(f"{url}/ui/login?next={path}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def test_compliance_approves_a_waiver_and_verifies_the_log(service, page, narrow_page, screenshot):
    from playwright.sync_api import expect

    submitter = {"Authorization": f"Bearer {service.token('submitter', 'platform-qa')}"}
    manifest, circuit = example("bell-local")
    for _ in range(2):
        assert httpx.post(f"{service.url}/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=submitter, timeout=60).status_code == 200
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    waiver = httpx.post(f"{service.url}/v1/waivers", headers=submitter, timeout=60, json={
        "rule": "DC-003", "team": "platform-qa", "reason": "DPO sign-off DPO-2026-200 for on-prem use", "expires": expires,
    }).json()
    compliance = service.token("compliance", "audit", "Compliance Officer")

    sign_in(page, service.url, compliance, "/ui/waivers")
    row = page.locator(f"tr#{waiver['id']}")
    expect(row).to_contain_text("requested")
    row.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Waiver approved.")
    expect(page.locator(f"tr#{waiver['id']}")).to_contain_text("approved")
    screenshot(page, "waivers")

    page.get_by_role("link", name="Audit").click()
    expect(page.locator("#checkpoint")).to_contain_text("no GOVERN_AUDIT_SIGNING_KEY")
    page.get_by_role("button", name="Verify the log").click()
    expect(page.locator("#verification")).to_contain_text("The decision log verified: 2 records")
    assert page.get_by_role("link", name="Export CSV").get_attribute("href") == "/ui/audit/export?format=csv"
    screenshot(page, "audit")

    sign_in(narrow_page, service.url, compliance, "/ui/audit")
    narrow_page.get_by_role("button", name="Verify the log").click()
    expect(narrow_page.locator("#verification")).to_contain_text("verified")
    screenshot(narrow_page, "audit-narrow")
    narrow_page.goto(f"{service.url}/ui/waivers")
    screenshot(narrow_page, "waivers-narrow")
