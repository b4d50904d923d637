"""Pilot terms as the console's fieldset, in-process on SQLite and PostgreSQL: the request form turns the
fields into the terms (blank rows ignored, an outcome only for outcome_probability), a refusal comes back as
the API's message with the fields as typed, and a change of terms is proposed from the sandbox's page
(CSRF checked, another team's sandbox a 404) and shown pending under *Term changes*."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

import pytest
from starlette.datastructures import ImmutableMultiDict

from govern.console.pilot_terms_form import METRIC_LABELS, fields_of, posted_fields, terms_document
from govern.pilots.terms import Metric, PilotTerms
from tests.api.test_api import auth
from tests.console.test_console_session import client, csrf_of, sign_in, token_for
from tests.console.test_procurement import request_form, sandbox, vendor

pytestmark = pytest.mark.slow
__all__ = ["client"]

TERMS_FIELDS = {
    "objective": "Learn whether ibm_brisbane is reliable enough",
    "criterion-1-name": "", "criterion-1-metric": "success_rate", "criterion-1-direction": "at_least", "criterion-1-target": "",
    "criterion-1-outcome": "", "criterion-1-description": "",
    "criterion-2-name": "jobs-succeed", "criterion-2-metric": "success_rate", "criterion-2-direction": "at_least",
    "criterion-2-target": "0.9", "criterion-2-outcome": "", "criterion-2-description": "most jobs end well",
    "criterion-3-name": "bell-pair", "criterion-3-metric": "outcome_probability", "criterion-3-direction": "at_least",
    "criterion-3-target": "0.45", "criterion-3-outcome": "00", "criterion-3-description": "",
    "max_failed_jobs": "3", "max_failed_share": "", "share_after_jobs": "", "max_failed_spend": "120.50",
    "counts-failed": "on", "counts-cancelled": "on",
}


def test_every_metric_has_a_label_and_the_fields_make_the_terms_the_model_takes():
    assert set(METRIC_LABELS) == set(Metric)
    document = terms_document(posted_fields(ImmutableMultiDict(TERMS_FIELDS)))
    terms = PilotTerms.model_validate(document)
    assert [criterion.name for criterion in terms.criteria] == ["jobs-succeed", "bell-pair"]  # the blank row 1 is ignored
    assert terms.criteria[0].outcome is None and terms.criteria[1].outcome == "00"
    assert terms.failure_budget.max_failed_jobs == 3 and str(terms.failure_budget.max_failed_spend) == "120.50"
    assert terms.failure_budget.counts == ["failed", "cancelled"] and terms.failure_budget.share_after_jobs == 10
    assert terms_document(fields_of(terms)) == terms_document(fields_of(PilotTerms.model_validate(terms_document(fields_of(terms)))))
    assert PilotTerms.model_validate(terms_document(fields_of(terms))) == terms  # prefilled from terms, the same terms come back
    assert terms_document(posted_fields(ImmutableMultiDict({"counts-failed": "on"}))) is None  # nothing typed: no terms
    assert len(fields_of(None)["criteria"]) == 6


def test_the_request_form_takes_structured_terms_and_refuses_bad_ones_with_the_fields_kept(client):
    buyer = token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    sign_in(client, buyer)
    form = client.get("/ui/sandboxes/-/new")
    assert '<label for="criterion-6-metric"><span class="visually-hidden">Criterion 6 </span>Metric</label>' in form.text
    assert 'id="criterion-7-name"' not in form.text and "the API takes up to 20" in form.text
    assert all(f'<option value="{metric.value}"' in form.text for metric in Metric)
    today = datetime.now(UTC).date()
    csrf = csrf_of(form.text)

    def send(**overrides):
        fields = {**request_form(today), **TERMS_FIELDS, **overrides, "csrf_token": csrf}
        return client.post("/ui/sandboxes/-/new", data={name: value for name, value in fields.items() if value is not None}, follow_redirects=False)

    bad_target = send(**{"criterion-2-target": "ninety"})
    assert bad_target.status_code == 422 and "pilot.criteria.0 (criterion 2).target: Input should be a valid number" in bad_target.text
    assert 'value="ninety"' in bad_target.text and 'value="bell-pair"' in bad_target.text and 'value="120.50"' in bad_target.text
    assert re.search(r'<option value="outcome_probability" selected>', bad_target.text)
    assert html.escape(TERMS_FIELDS["objective"]) in bad_target.text
    stray = send(**{"criterion-2-outcome": "11"})
    assert stray.status_code == 422 and "outcome is required by metric outcome_probability and taken by no other metric" in stray.text
    missing = send(**{"criterion-3-outcome": ""})
    assert missing.status_code == 422 and "outcome is required by metric outcome_probability" in missing.text
    assert "runs from 0 to 1, so a target of 90" in send(**{"criterion-2-target": "90"}).text
    assert "failure budget names at least one" in send(max_failed_jobs="", max_failed_spend="").text
    assert "counts" in send(**{"counts-failed": None, "counts-cancelled": None}).text
    both = send(pilot=json.dumps({"objective": "x"}))
    assert both.status_code == 422 and "not both" in both.text

    sent = send()
    assert sent.status_code == 303
    shown = client.get(sent.headers["location"]).text
    assert "<code>outcome_probability</code> of <code>00</code>" in shown and "3 failed jobs; " in shown
    assert "120.50 USD spent on failed runs" in shown and "counting failed and cancelled jobs" in shown
    assert send(id="SBX-UI-NONE", **dict.fromkeys(TERMS_FIELDS, None)).status_code == 303  # no terms: a sandbox without a pilot
    assert "approved without pilot terms" in client.get("/ui/sandboxes/SBX-UI-NONE").text


def _change(page: str, **overrides) -> dict[str, str]:
    """The proposal form as the page fills it in (its inputs, selected options and ticked boxes), changed."""
    fields = dict(re.findall(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', page))
    fields.update(re.findall(r'<select id="[^"]+" name="([^"]+)">\s*.*?<option value="([^"]+)" selected>', page))
    fields.update({name: "on" for name in re.findall(r'name="(counts-[a-z]+)" type="checkbox" checked', page)})
    fields.update(re.findall(r'<textarea id="[^"]+" name="(objective)"[^>]*>([^<]*)</textarea>', page), csrf_token=csrf_of(page))
    return {name: html.unescape(value) for name, value in {**fields, **overrides}.items()}


def test_a_change_is_proposed_from_the_sandbox_page_and_shown_pending(client):
    buyer, submitter = token_for(client, "procurement", "procurement"), token_for(client, "submitter", "materials-rnd")
    vendor(client, buyer)
    terms = {"objective": "Learn whether the device is reliable", "failureBudget": {"maxFailedJobs": 2},
             "criteria": [{"name": "jobs-succeed", "metric": "success_rate", "direction": "at_least", "target": 0.9}]}
    sandbox(client, buyer, "SBX-MINE", pilot=terms)
    sandbox(client, buyer, "SBX-THEIRS", team="quantum-finance")
    sign_in(client, submitter)
    page = client.get("/ui/sandboxes/SBX-MINE")
    assert 'href="/ui/sandboxes/SBX-MINE/amendments/new" id="propose">Propose a change</a>' in page.text
    assert client.get("/ui/sandboxes/SBX-THEIRS/amendments/new").status_code == 404
    form = client.get("/ui/sandboxes/SBX-MINE/amendments/new")
    assert form.status_code == 200 and 'value="jobs-succeed"' in form.text and 'value="0.9"' in form.text and 'value="2"' in form.text

    change = _change(form.text, **{"max_failed_jobs": "4", "criterion-2-name": "cheap", "criterion-2-metric": "cost_per_job",
                                   "criterion-2-direction": "at_most", "criterion-2-target": "25", "reason": "two more failures are affordable"})
    assert change["criterion-1-metric"] == "success_rate" and change["counts-failed"] == "on" and change["objective"]
    assert client.post("/ui/sandboxes/SBX-MINE/amendments/new", data={**change, "csrf_token": "stale"}).status_code == 403
    assert client.post("/ui/sandboxes/SBX-THEIRS/amendments/new", data=change).status_code == 404
    no_reason = client.post("/ui/sandboxes/SBX-MINE/amendments/new", data={**change, "reason": ""})
    assert no_reason.status_code == 422 and "reason:" in no_reason.text and 'value="cheap"' in no_reason.text
    bad = client.post("/ui/sandboxes/SBX-MINE/amendments/new", data={**change, "criterion-2-target": "-1"})
    assert bad.status_code == 422 and "terms.criteria.1 (criterion 2).target: Input should be greater than or equal to 0" in bad.text
    sent = client.post("/ui/sandboxes/SBX-MINE/amendments/new", data=change, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/sandboxes/SBX-MINE?term-change=proposed#terms"

    shown = client.get(sent.headers["location"]).text
    assert "Term change proposed." in shown and 'class="lifecycle pending">pending</span>' in shown
    assert "Reason: two more failures are affordable" in shown and "Failure budget: 4 failed jobs; " in shown
    assert "A change is pending" in shown and 'id="propose"' not in shown
    again = client.post("/ui/sandboxes/SBX-MINE/amendments/new", data=change)
    assert again.status_code == 409 and "already has a pending change" in again.text
    listed = client.get("/v1/sandboxes/SBX-MINE/pilot/amendments", headers=auth(submitter)).json()
    assert [amendment["status"] for amendment in listed] == ["pending"] and len(listed[0]["terms"]["criteria"]) == 2

    client.cookies.clear()
    sign_in(client, token_for(client, "compliance", "audit"))
    assert 'id="propose"' not in client.get("/ui/sandboxes/SBX-MINE").text  # compliance proposes nothing
    assert client.get("/ui/sandboxes/SBX-MINE/amendments/new").status_code == 403


def test_twenty_criteria_come_back_a_row_each_and_are_sent_within_the_forms_bounds(client):
    buyer = token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    criteria = [{"name": f"cheap-{row}", "metric": "cost_per_job", "direction": "at_most", "target": 20 + row,
                 "description": "d" * 400} for row in range(20)]
    sandbox(client, buyer, "SBX-WIDE", pilot={"objective": "o" * 2000, "failureBudget": {"maxFailedShare": 0.25}, "criteria": criteria})
    sign_in(client, buyer)
    form = client.get("/ui/sandboxes/SBX-WIDE/amendments/new")
    assert 'value="cheap-19"' in form.text and 'id="criterion-21-name"' not in form.text and 'value="0.25"' in form.text
    change = _change(form.text, **{"criterion-20-target": "99", "reason": "the last one was too strict"})
    assert len(change) > 100  # more fields than a form without the terms ever needs
    sent = client.post("/ui/sandboxes/SBX-WIDE/amendments/new", data=change, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    proposed = client.get("/v1/sandboxes/SBX-WIDE/pilot/amendments", headers=auth(buyer)).json()[0]["terms"]
    assert [(criterion["name"], criterion["target"], criterion["description"]) for criterion in proposed["criteria"]] == [
        (criterion["name"], criterion["target"], criterion["description"]) for criterion in criteria[:19]] + [("cheap-19", 99, "d" * 400)]
