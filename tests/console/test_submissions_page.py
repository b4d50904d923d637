"""The console's Submissions pages, in-process on SQLite and PostgreSQL: the listing with the API's filters and
team rules, a submission's jobs and result, cancel and reproduce through the policy with CSRF, the evidence
pack, and bad input as a 4xx page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.audit.checkpoint import generate_key
from govern.console.routes.submissions import MAX_BARS, histogram
from govern.settings import Settings
from tests.api.test_api import auth, example
from tests.console.test_console_session import csrf_of, sign_in, token_for
from tests.dispatch.test_dispatch import worker

pytestmark = pytest.mark.slow


@pytest.fixture
def client(database_url, tmp_path):
    generate_key(tmp_path / "log.key")
    settings = Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False, audit_signing_key=tmp_path / "log.key")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client


def submitted(client, secret: str, name: str) -> dict:
    manifest, circuit = example(name)
    answer = client.post("/v1/submissions", json={"manifest": manifest, "circuit": circuit}, headers=auth(secret))
    assert answer.status_code in (201, 403), answer.text
    return answer.json()


def post(client, path: str, page_path: str):
    return client.post(path, data={"csrf_token": csrf_of(client.get(page_path).text)}, follow_redirects=False)


def test_submitters_list_their_team_newest_first_with_links_and_filters(client):
    submitter = token_for(client, "submitter", "platform-qa")
    allowed = submitted(client, submitter, "bell-local")["submission"]
    denied = submitted(client, submitter, "unknown-backend")
    sign_in(client, submitter)
    listing = client.get("/ui/submissions")
    assert listing.status_code == 200 and "Submissions of team platform-qa" in listing.text
    assert listing.text.index(denied["submission"]["id"]) < listing.text.index(allowed["id"])  # newest first
    assert f'href="/ui/decisions/{denied["decision"]["decision_id"]}"' in listing.text
    assert f'href="/ui/submissions/{allowed["id"]}"' in listing.text
    only_denied = client.get("/ui/submissions?outcome=denied&rule=SEC-008")
    assert denied["submission"]["id"] in only_denied.text and allowed["id"] not in only_denied.text
    assert allowed["id"] not in client.get("/ui/submissions?rule=SEC-008").text
    first = client.get("/ui/submissions?limit=1")
    cursor = re.search(r'rel="next" href="[^"]*cursor=(\d+)"', first.text).group(1)
    older = client.get(f"/ui/submissions?limit=1&cursor={cursor}")
    assert allowed["id"] in older.text and denied["submission"]["id"] not in older.text
    assert client.get("/ui/submissions?team=&outcome=&rule=&since=&until=").status_code == 200


def test_other_teams_submissions_are_refused_and_compliance_sees_every_team(client):
    submission = submitted(client, token_for(client, "submitter", "platform-qa"), "bell-local")["submission"]
    sign_in(client, token_for(client, "submitter", "quantum-finance"))
    assert submission["id"] not in client.get("/ui/submissions").text
    assert client.get("/ui/submissions?team=platform-qa").status_code == 403
    assert client.get(f"/ui/submissions/{submission['id']}").status_code == 403
    assert post(client, f"/ui/submissions/{submission['id']}/cancel", "/ui/submissions").status_code == 403
    client.cookies.clear()
    sign_in(client, token_for(client, "compliance", "audit"))
    listing = client.get("/ui/submissions")
    assert "Every team&#39;s submissions" in listing.text and submission["id"] in listing.text
    page = client.get(f"/ui/submissions/{submission['id']}")
    assert "Cancel unfinished work" not in page.text and "Reproduce the run" in page.text  # compliance may reproduce, not cancel
    assert post(client, f"/ui/submissions/{submission['id']}/cancel", "/ui/submissions").status_code == 403


def test_a_run_shows_its_jobs_result_histogram_and_reproduction_linked_both_ways(client):
    submitter = token_for(client, "submitter", "platform-qa")
    submission_id = submitted(client, submitter, "bell-local")["submission"]["id"]
    sign_in(client, submitter)
    path = f"/ui/submissions/{submission_id}"
    queued = client.get(path)
    assert 'class="job queued"' in queued.text and "has no result yet (dispatch: queued)" in queued.text
    assert re.search(r'Reproduce the run</button>', queued.text) and "Only a finished run can be reproduced" in queued.text
    worker(client).run_until_idle()
    page = client.get(path)
    assert 'class="job succeeded"' in page.text and "<meter" in page.text and "style=" not in page.text
    assert re.search(r"<code>00</code>|<code>11</code>", page.text) and "sha256:" in page.text
    assert "depth" in page.text and "twoQubitDepth" in page.text
    assert "/ui/static/submissions.css" in page.text
    assert client.post(f"{path}/reproduce", data={}, follow_redirects=False).status_code == 403  # no CSRF token
    asked = post(client, f"{path}/reproduce", path)
    assert asked.status_code == 303 and asked.headers["location"].startswith(f"{path}?done=reproduce#job-")
    job_id = asked.headers["location"].split("#job-")[1]
    assert "Reproduction queued" in client.get(f"{path}?done=reproduce").text
    worker(client).run_until_idle()
    page = client.get(path).text
    assert f'id="job-{job_id}"' in page and f'Reproduced by <a href="#job-{job_id}">' in page
    assert "Reproduces <a href=\"#job-" in page and "Result hash matched." in page


def test_cancelling_queued_work_and_what_is_refused(client):
    submitter = token_for(client, "submitter", "platform-qa")
    submission_id = submitted(client, submitter, "bell-local")["submission"]["id"]
    sign_in(client, submitter)
    path = f"/ui/submissions/{submission_id}"
    assert client.post(f"{path}/cancel", data={"csrf_token": "stale"}).status_code == 403
    done = post(client, f"{path}/cancel", path)
    assert done.status_code == 303 and done.headers["location"] == f"{path}?done=cancel"
    page = client.get(done.headers["location"]).text
    assert "Cancellation requested" in page and 'class="job cancelled"' in page and "Nothing left to cancel" in page
    again = post(client, f"{path}/cancel", path)
    assert again.status_code == 409 and "no unfinished job to cancel" in again.text and "<html" in again.text
    refused = post(client, f"{path}/reproduce", path)
    assert refused.status_code == 409 and "no finished run to reproduce" in refused.text


def test_a_denied_submission_names_its_rule_and_links_to_its_decision(client):
    submitter = token_for(client, "submitter", "platform-qa")
    denied = submitted(client, submitter, "unknown-backend")
    sign_in(client, submitter)
    page = client.get(f"/ui/submissions/{denied['submission']['id']}").text
    assert "SEC-008" in page and f'href="/ui/decisions/{denied["decision"]["decision_id"]}"' in page
    assert "a denied submission is not dispatched" in page and "the submission was denied, so nothing ran" in page
    assert "Cancel unfinished work" not in page and "Reproduce the run" not in page  # nothing ran to cancel or repeat


def test_the_evidence_pack_is_for_audit_readers(client):
    submission_id = submitted(client, token_for(client, "submitter", "platform-qa"), "bell-local")["submission"]["id"]
    sign_in(client, token_for(client, "submitter", "platform-qa"))
    assert "Evidence pack" not in client.get(f"/ui/submissions/{submission_id}").text
    assert client.get(f"/ui/submissions/{submission_id}/evidence").status_code == 403
    client.cookies.clear()
    sign_in(client, token_for(client, "compliance", "audit"))
    assert f'href="/ui/submissions/{submission_id}/evidence"' in client.get(f"/ui/submissions/{submission_id}").text
    pack = client.get(f"/ui/submissions/{submission_id}/evidence")
    assert pack.status_code == 200 and pack.headers["content-type"] == "application/zip" and pack.content[:2] == b"PK"
    assert client.get("/ui/submissions/nothing/evidence").status_code == 404


def test_bad_input_is_a_page_not_a_traceback(client):
    sign_in(client, token_for(client, "compliance", "audit"))
    for query in ("rule=DROP%25", "since=yesterday", "limit=100000", "cursor=-1", "outcome=maybe"):
        bad = client.get(f"/ui/submissions?{query}")
        assert bad.status_code == 422 and "<html" in bad.text, query
    assert client.get("/ui/submissions/" + "x" * 37).status_code == 422
    assert client.get("/ui/submissions/nope").status_code == 404
    assert client.get("/ui/submissions/nope?done=whatever").status_code == 422
    assert post(client, "/ui/submissions/nope/reproduce", "/ui/submissions").status_code == 404


def test_the_histogram_draws_the_most_frequent_outcomes_in_bit_order():
    counts = {format(n, "08b"): n + 1 for n in range(100)}
    drawn = histogram(counts)
    assert len(drawn.bars) == MAX_BARS and drawn.others == 100 - MAX_BARS
    assert [bar.outcome for bar in drawn.bars] == sorted(bar.outcome for bar in drawn.bars)
    assert drawn.tallest == 100 and drawn.shots == sum(counts.values())
    assert drawn.other_shots == sum(range(1, 100 - MAX_BARS + 1))
    assert histogram({}).bars == [] and histogram({}).tallest == 0
