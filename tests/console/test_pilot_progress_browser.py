"""In the browser: compliance opens a pilot's sandbox page after its first job ran, reads each criterion's
measured value and verdict, follows a record's link to the job's row, and downloads the PDF report; the
section holds at a phone's width."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.admission.test_submissions_api import vqe_body
from tests.console.conftest import Service, sign_in
from tests.console.test_submissions_browser import run_queued_jobs
from tests.live_service import running_service
from tests.pilots.test_progress import TERMS
from tests.records.test_procurement_api import sandbox_request


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    """`govern serve` on loopback with IBM's devices simulated locally, so a job the test's worker runs ends."""
    database_url = f"sqlite:///{tmp_path / 'govern.db'}"
    with running_service(database_url, env={"GOVERN_IBM_MODE": "local", "GOVERN_LINEAGE_DELIVERY": "false"}) as url:
        yield Service(url, database_url)


@pytest.fixture
def pilot(service: Service) -> tuple[Service, str]:
    """The approved pilot SBX-2026-014 with one finished job (an H2 run); the job's id."""
    def call(role: str, team: str, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {service.token(role, team)}"}
        return httpx.request(method, f"{service.url}{path}", headers=headers, timeout=30, **kwargs)

    assert call("procurement", "procurement", "PUT", "/v1/vendors/ibm", json={"dataProcessingAgreement": True}).status_code == 200
    assert call("submitter", "materials-rnd", "POST", "/v1/sandboxes", json=sandbox_request(budget="100.00", pilot=TERMS)).status_code == 201
    assert call("procurement", "procurement", "POST", "/v1/sandboxes/SBX-2026-014/approve").status_code == 200
    submitted = call("submitter", "materials-rnd", "POST", "/v1/submissions", json=vqe_body())
    assert submitted.status_code == 201, submitted.text
    submission = submitted.json()["submission"]["id"]
    run_queued_jobs(service.database_url)
    (job,) = call("submitter", "materials-rnd", "GET", f"/v1/submissions/{submission}/jobs").json()["items"]
    return service, job["id"]


def test_compliance_reads_the_progress_follows_a_record_and_downloads_the_report(page, narrow_page, pilot, screenshot):
    service, job = pilot
    compliance = service.token("compliance", "audit")
    sign_in(page, service.url, compliance, "/ui/sandboxes/SBX-2026-014")
    progress = page.locator("#progress")
    row = progress.get_by_role("row", name="jobs-succeed")
    assert [row.get_by_role("cell").nth(i).inner_text() for i in range(3)] == ["100%", "at least 90%", "met"]
    assert progress.get_by_role("row", name="repeatable").get_by_role("cell").nth(2).inner_text() == "no data yet"
    assert "ok" in progress.locator("dl").inner_text()
    screenshot(page, "pilot-progress")

    with page.expect_download() as download:
        progress.get_by_role("link", name="PDF").click()
    assert download.value.suggested_filename == "pilot-SBX-2026-014.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")

    with page.expect_navigation():
        row.get_by_role("link", name=f"job {job[:8]}").click()
    assert page.url.endswith(f"#job-{job}") and page.locator(f"#job-{job}").is_visible()

    sign_in(narrow_page, service.url, compliance, "/ui/sandboxes/SBX-2026-014")
    assert narrow_page.locator("#progress").is_visible()
    assert narrow_page.evaluate("document.documentElement.scrollWidth") <= 391
    screenshot(narrow_page, "pilot-progress-narrow")
