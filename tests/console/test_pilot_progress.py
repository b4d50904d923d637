"""A pilot's progress on its sandbox's console page and its report downloaded from there, in-process on SQLite
and PostgreSQL, from jobs the real worker ran: an H2 run that succeeds and a dynamic circuit the device
cannot run (it fails). Each criterion shows its measured value, target and verdict, linked to its records;
another team's pilot is the console's 404."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from govern.api import create_app
from govern.db.tables import SubmissionRecord
from govern.settings import Settings
from tests.admission.test_submissions_api import vqe_body
from tests.api.test_api import auth
from tests.console.test_console_session import sign_in, token_for
from tests.dispatch.test_dispatch import submit, worker
from tests.pilots.test_progress import TERMS, dynamic_circuit_body
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow

PAGE = "/ui/sandboxes/SBX-2026-014"


@pytest.fixture
def client(database_url):
    settings = Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False, ibm_mode="local")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client


def approved_pilot(client, terms: dict | None = TERMS) -> tuple[str, dict[str, str]]:
    """The pilot SBX-2026-014 of materials-rnd, approved; procurement's token and a submitter's headers."""
    buyer = token_for(client, "procurement", "procurement")
    submitter = auth(token_for(client, "submitter", "materials-rnd"))
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=auth(buyer))
    assert client.post("/v1/sandboxes", json=sandbox_request(budget="100.00", pilot=terms), headers=submitter).status_code == 201
    assert client.post("/v1/sandboxes/SBX-2026-014/approve", headers=auth(buyer)).status_code == 200
    return buyer, submitter


def criteria_rows(page: str) -> dict[str, list[str]]:
    """Each criterion's row of the Progress table: its cells' text, tags stripped."""
    section = page.split('id="progress"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<tr class="criterion">(.*?)</tr>', section, re.S)
    cells = [[unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]
    return {row[0]: row[1:] for row in cells}


def test_each_criterion_shows_its_measured_value_target_and_verdict_linked_to_its_records(client):
    buyer, submitter = approved_pilot(client)
    sign_in(client, token_for(client, "compliance", "audit"))  # reads every team's sandboxes, submissions, decisions, lineage
    fresh = criteria_rows(client.get(PAGE).text)
    assert [row[2] for row in fresh.values()] == ["no data yet"] * 4 and fresh["jobs-succeed"][:2] == ["-", "at least 90%"]

    succeeded = submit(client, submitter, vqe_body())
    failed = submit(client, submitter, dynamic_circuit_body())
    assert worker(client).run_until_idle() == 2
    jobs = {sid: client.get(f"/v1/submissions/{sid}/jobs", headers=submitter).json()["items"][0] for sid in (succeeded, failed)}
    progress = {c["name"]: c for c in client.get("/v1/sandboxes/SBX-2026-014/pilot", headers=auth(buyer)).json()["criteria"]}

    page = client.get(PAGE)
    assert page.status_code == 200
    rows = criteria_rows(page.text)
    assert rows["jobs-succeed"][:3] == ["50%", "at least 90%", "not met"]
    assert rows["jobs-succeed"][3].startswith("1 of 2 primary jobs succeeded where asked: job ")
    assert rows["cheap"][:3] == [f"{progress['cheap']['value']:,.2f} USD", "at most 25.00 USD", "met"]
    assert rows["zeros"][:3] == [f"{progress['zeros']['value'] * 100:.4g}%", "at least 1%", "met" if progress["zeros"]["met"] else "not met"]
    assert rows["repeatable"][:3] == ["-", "at least 100%", "no data yet"]

    for sid, job in jobs.items():  # each job links to its row on its submission's page, and its run to the experiment's lineage
        assert f'href="/ui/submissions/{sid}#job-{job["id"]}">job {job["id"][:8]}</a>' in page.text
        assert f'>run {job["run_id"][:8]}</a>' in page.text
    assert "/ui/lineage?node=job%3Agovern.materials-rnd%3A" in page.text
    charge = progress["cheap"]["records"]["ledger"][0]
    ledger_link = f"{PAGE}?after={charge - 1}"
    assert f'href="{ledger_link}">ledger #{charge}</a>' in page.text
    assert re.search(rf"<td>{charge}</td>\s*<td>[^<]*</td>\s*<td><span class=\"entry charge\">", client.get(ledger_link).text)
    assert client.get(f"/ui/submissions/{succeeded}").status_code == 200

    section = page.text.split('id="progress"', 1)[1].split("</section>", 1)[0]
    assert "spent</span>" not in section and '<span class="verdict outcome allowed">ok</span>' in section
    assert "maxFailedJobs 1 of 2 (ok); maxFailedSpend 0 of 50 (ok)" in section
    assert f'#job-{jobs[failed]["id"]}">job' in section.split("Failed or cancelled:", 1)[1]
    with Session(client.app.state.db) as session:
        decision = session.exec(select(SubmissionRecord.decision_id).where(SubmissionRecord.id == failed)).one()
    assert "2 allowed, 0 warned, 0 denied; 0 with a waiver" in section and f'href="/ui/decisions/{decision}"' in section
    assert client.get(f"/ui/decisions/{decision}").status_code == 200

    client.cookies.clear()
    sign_in(client, buyer)  # procurement reads the sandbox, not the team's submissions or decisions: they are named, not linked
    theirs = client.get(PAGE).text.split('id="progress"', 1)[1].split("</section>", 1)[0]
    assert criteria_rows(client.get(PAGE).text) == rows
    assert f'<span class="unlinked">job {jobs[failed]["id"][:8]}</span>' in theirs and f'<span class="unlinked">decision {decision[:8]}</span>' in theirs
    assert "/ui/submissions/" not in theirs and "/ui/decisions/" not in theirs and "/ui/lineage" not in theirs
    assert f'href="{ledger_link}">ledger #{charge}</a>' in theirs


def test_the_report_downloads_in_each_format_and_only_for_those_who_may_read_the_sandbox(client):
    buyer, submitter = approved_pilot(client)
    submit(client, submitter, vqe_body())
    assert worker(client).run_until_idle() == 1
    sign_in(client, buyer)
    page = client.get(PAGE).text
    for report_format in ("markdown", "html", "pdf"):
        assert f'href="{PAGE}/pilot/report?format={report_format}" download>' in page
    markdown = client.get(f"{PAGE}/pilot/report?format=markdown")
    assert markdown.status_code == 200 and markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.headers["content-disposition"] == 'attachment; filename="pilot-SBX-2026-014.md"'
    assert markdown.headers["cache-control"] == "no-store"
    assert "| jobs-succeed | 1 against at least 0.9" in markdown.text and "| **met** |" in markdown.text
    assert client.get(f"{PAGE}/pilot/report").content == markdown.content  # Markdown unless asked otherwise
    html = client.get(f"{PAGE}/pilot/report?format=html")
    assert html.headers["content-type"] == "text/html; charset=utf-8" and "&lt;ibm_brisbane&gt;" in html.text
    assert html.headers["content-disposition"] == 'attachment; filename="pilot-SBX-2026-014.html"'
    pdf = client.get(f"{PAGE}/pilot/report?format=pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == 'attachment; filename="pilot-SBX-2026-014.pdf"'
    docx = client.get(f"{PAGE}/pilot/report?format=docx")
    assert docx.status_code == 422 and "<html" in docx.text

    client.cookies.clear()
    assert client.get(f"{PAGE}/pilot/report?format=pdf", follow_redirects=False).headers["location"].startswith("/ui/login?next=")
    sign_in(client, token_for(client, "submitter", "platform-qa"))
    for path in (PAGE, f"{PAGE}/pilot/report", f"{PAGE}/pilot/report?format=pdf", "/ui/sandboxes/NOPE/pilot/report"):
        answer = client.get(path)
        assert answer.status_code == 404 and "<html" in answer.text and "%PDF" not in answer.text, path
    client.cookies.clear()
    sign_in(client, token_for(client, "submitter", "materials-rnd"))
    assert client.get(f"{PAGE}/pilot/report?format=pdf").content.startswith(b"%PDF")  # the sandbox's own team


def test_a_sandbox_without_pilot_terms_has_no_progress_section(client):
    buyer, _ = approved_pilot(client, terms=None)
    sign_in(client, buyer)
    page = client.get(PAGE).text
    assert "approved without pilot terms" in page and 'id="progress"' not in page
    assert "approved without pilot terms" in client.get(f"{PAGE}/pilot/report").text
