"""A submitter's task in a real browser against a real `govern serve`: sign in, open Submissions, follow a
denied submission to its decision and read the rule that denied it and its remediation; an allowed one's
page shows its job and result. Screenshots of each Submissions page are kept."""

from __future__ import annotations

import httpx

from govern.db.database import create_db_engine
from govern.dispatch.worker import Worker
from tests.api.test_api import example
from tests.dispatch.test_dispatch import FAST


def submit(service, secret: str, name: str) -> dict:
    manifest, circuit = example(name)
    answer = httpx.post(f"{service.url}/v1/submissions", json={"manifest": manifest, "circuit": circuit},
                        headers={"Authorization": f"Bearer {secret}"}, timeout=60)
    assert answer.status_code in (201, 403), answer.text
    return answer.json()


def run_queued_jobs(database_url: str) -> None:
    """A dispatch worker of its own on the service's database (the fixture's service runs none)."""
    db = create_db_engine(database_url)
    try:
        Worker(db, FAST).run_until_idle()
    finally:
        db.dispose()


def test_a_submitter_follows_a_denied_submission_to_its_rule_and_remediation(service, page, narrow_page, screenshot):
    from playwright.sync_api import expect

    secret = service.token("submitter", "platform-qa", "sam")
    allowed = submit(service, secret, "bell-local")["submission"]
    denied = submit(service, secret, "unknown-backend")
    run_queued_jobs(service.database_url)

    page.goto(f"{service.url}/ui/login")
    page.get_by_label("API token").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Submissions").click()
    expect(page.get_by_role("heading", name="Submissions")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="bell-mystery-device")
    expect(row.get_by_role("link", name="denied")).to_be_visible()
    screenshot(page, "submissions")

    row.get_by_role("link", name="denied").click()
    expect(page).to_have_url(f"{service.url}/ui/decisions/{denied['decision']['decision_id']}")
    finding = page.locator(".findings.deny .finding").filter(has_text="SEC-008")
    expect(finding).to_be_visible()
    expect(finding.locator(".remediation")).to_contain_text("catalogued device")
    screenshot(page, "denied-decision")

    page.goto(f"{service.url}/ui/submissions/{allowed['id']}")
    expect(page.locator(".job.succeeded").first).to_be_visible()
    expect(page.locator("table.histogram meter").first).to_be_visible()
    expect(page.get_by_role("button", name="Reproduce the run")).to_be_enabled()
    screenshot(page, "submission")

    narrow_page.goto(f"{service.url}/ui/login?next=/ui/submissions/{denied['submission']['id']}")
    narrow_page.get_by_label("API token").fill(secret)
    narrow_page.get_by_role("button", name="Sign in").click()
    expect(narrow_page.get_by_text("a denied submission is not dispatched")).to_be_visible()
    screenshot(narrow_page, "denied-submission-narrow")
