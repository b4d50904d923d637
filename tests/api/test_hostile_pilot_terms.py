"""Hostile pilot terms in `POST /v1/sandboxes` (issue 17): each is a 4xx naming the field and saying what is
wrong, never a 500, and nothing is stored. On SQLite and PostgreSQL, through the ASGI app."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.settings import Settings
from tests.api.test_api import auth, token_for
from tests.api.test_hostile_inputs import JSON, refused
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow

CRITERION = {"name": "jobs-succeed", "metric": "success_rate", "direction": "at_least", "target": 0.9}


def terms(criteria: list | None = None, **changes) -> dict:
    return {"objective": "Is ibm_brisbane worth scaling?", "criteria": [CRITERION] if criteria is None else criteria, "failureBudget": {"maxFailedJobs": 2}, **changes}


def criterion(**changes) -> list[dict]:
    return [{**CRITERION, **changes}]


def raw_target(number: str) -> str:
    """Terms whose first target is `number` as written, which json.dumps could not write (NaN, 1e400)."""
    return json.dumps(terms()).replace('"target": 0.9', f'"target": {number}')


@pytest.fixture
def client(database_url):
    """The service as deployed: its default body limit (GOVERN_MAX_REQUEST_BYTES, 2 MB)."""
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True)), raise_server_exceptions=False) as client:
        yield client


CRITERIA = ["body", "pilot", "criteria"]
TARGET = [*CRITERIA, 0, "target"]
BUDGET = ["body", "pilot", "failureBudget"]


@pytest.mark.parametrize(
    ("pilot", "loc", "says"),
    [
        pytest.param(terms([{**CRITERION, "name": f"c{i}"} for i in range(21)]), CRITERIA, "at most 20 items", id="21-criteria"),
        pytest.param(terms([]), CRITERIA, "at least 1 item", id="no-criteria"),
        pytest.param(terms([CRITERION, CRITERION]), ["body", "pilot"], "each criterion needs a name of its own", id="same-name-twice"),
        pytest.param(terms(criterion(target=1e300)), TARGET, "less than or equal to 1000000000000", id="huge-target"),
        pytest.param(terms(criterion(metric="cost_per_job", direction="at_most", target=-25)), TARGET, "greater than or equal to 0", id="negative-cost"),
        pytest.param(terms(criterion(target=-0.5)), TARGET, "greater than or equal to 0", id="negative-share"),
        pytest.param(terms(criterion(target=90)), [*CRITERIA, 0], "success_rate runs from 0 to 1, so a target of 90", id="share-over-1"),
        pytest.param(terms(criterion(target=True)), TARGET, "valid number", id="boolean-target"),
        pytest.param(terms(criterion(target="0.9")), TARGET, "valid number", id="text-target"),
        pytest.param(terms(criterion(target={"a": {"b": [[[1]]]}})), TARGET, "valid number", id="nested-target"),
        pytest.param(terms(criterion(metric="vibes")), [*CRITERIA, 0, "metric"], "Input should be 'success_rate'", id="unknown-metric"),
        pytest.param(terms(criterion(metric="outcome_probability")), [*CRITERIA, 0], "outcome is required by metric outcome_probability", id="no-outcome"),
        pytest.param(terms(criterion(outcome="00")), [*CRITERIA, 0], "taken by no other metric", id="outcome-elsewhere"),
        pytest.param(terms(criterion(metric="outcome_probability", outcome="0" * 65)), [*CRITERIA, 0, "outcome"], "match pattern", id="long-outcome"),
        pytest.param(terms(criterion(metric="outcome_probability", outcome="0x")), [*CRITERIA, 0, "outcome"], "match pattern", id="not-bits"),
        pytest.param(terms(objective="o" * 2001), ["body", "pilot", "objective"], "at most 2000 characters", id="long-objective"),
        pytest.param(terms(criterion(name="n" * 201)), [*CRITERIA, 0, "name"], "at most 200 characters", id="long-name"),
        pytest.param(terms(criterion(description="d" * 100_000)), [*CRITERIA, 0, "description"], "at most 500 characters", id="long-description"),
        pytest.param(terms(criterion(weight=2)), [*CRITERIA, 0, "weight"], "Extra inputs are not permitted", id="unknown-field"),
        pytest.param(terms(failureBudget={}), BUDGET, "names at least one of maxFailedJobs", id="no-limit"),
        pytest.param(terms(failureBudget={"maxFailedJobs": 10**30}), [*BUDGET, "maxFailedJobs"], "integer outside", id="huge-job-count"),
        pytest.param(terms(failureBudget={"maxFailedJobs": 0}), [*BUDGET, "maxFailedJobs"], "greater than or equal to 1", id="zero-jobs"),
        pytest.param(terms(failureBudget={"maxFailedShare": 1.5}), [*BUDGET, "maxFailedShare"], "less than or equal to 1", id="failed-share-over-1"),
        pytest.param(terms(failureBudget={"maxFailedSpend": "1e30"}), [*BUDGET, "maxFailedSpend"], "no more than 14 digits", id="huge-spend"),
        pytest.param(terms(failureBudget={"maxFailedSpend": "-50"}), [*BUDGET, "maxFailedSpend"], "greater than 0", id="negative-spend"),
        pytest.param(terms(failureBudget={"maxFailedSpend": "NaN"}), [*BUDGET, "maxFailedSpend"], "finite number", id="nan-spend"),
        pytest.param(terms(failureBudget={"maxFailedJobs": 1, "counts": ["failed"] * 10_000}), [*BUDGET, "counts"], "at most 2 items", id="many-counts"),
        pytest.param(terms(failureBudget={"maxFailedJobs": 1, "counts": ["fallback"]}), [*BUDGET, "counts", 0], "'failed' or 'cancelled'", id="fallback-counted"),
        pytest.param(["not", "terms"], ["body", "pilot"], "valid dictionary", id="a-list"),
    ],
)
def test_hostile_pilot_terms_are_422_naming_the_field(client, pilot, loc, says):
    headers = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    refused(client.post("/v1/sandboxes", content=json.dumps(sandbox_request(pilot=pilot)), headers=headers), 422, loc=loc, says=says)
    assert client.get("/v1/sandboxes", headers=headers).json() == []


@pytest.mark.parametrize(
    ("pilot", "loc", "says"),
    [
        pytest.param(raw_target("NaN"), TARGET, "NaN is not a number JSON allows at /pilot/criteria/0/target", id="nan"),
        pytest.param(raw_target("Infinity"), TARGET, "Infinity is not a number", id="infinity"),
        pytest.param(raw_target("-Infinity"), TARGET, "-Infinity is not a number", id="minus-infinity"),
        pytest.param(raw_target("1e400"), TARGET, "overflows to infinity", id="overflow"),
        pytest.param(raw_target("9" * 5000), ["body"], "number out of range", id="5000-digits"),
        pytest.param(raw_target("[" * 100 + "]" * 100), None, "nested deeper than 64 levels", id="deep"),
        pytest.param(raw_target("[" * 100_000 + "]" * 100_000), ["body"], "nested deeper than 64 levels", id="very-deep"),
        pytest.param(raw_target('"\\u0000"'), TARGET, "NUL byte", id="nul"),
        pytest.param(json.dumps(terms()).replace("Is ibm", "\\ud800"), ["body", "pilot", "objective"], "lone surrogate", id="surrogate"),
    ],
)
def test_pilot_terms_json_cannot_hold_exactly_is_422(client, pilot, loc, says):
    headers = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    body = json.dumps(sandbox_request(pilot="PILOT")).replace('"PILOT"', pilot)
    refused(client.post("/v1/sandboxes", content=body.encode(), headers=headers), 422, loc=loc, says=says)


def test_a_10_mb_body_of_pilot_terms_is_413(client):
    headers = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    body = json.dumps(sandbox_request(pilot=terms(objective="o" * 10 * 1024 * 1024)))
    refused(client.post("/v1/sandboxes", content=body.encode(), headers=headers), 413, loc=["body"], says="2000000-byte limit")
    assert client.get("/healthz").status_code == 200


def test_the_widest_terms_accepted_are_stored(client):
    headers = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=auth(token_for(client, "procurement", "procurement")))
    widest = terms([{**CRITERION, "name": "n" * 195 + f"-{i:03}", "metric": "cost_per_job", "direction": "at_most", "target": 1e12,
                     "description": "d" * 500} for i in range(20)], objective="o" * 2000,
                   failureBudget={"maxFailedJobs": 1_000_000, "maxFailedShare": 1, "maxFailedSpend": "999999999999.99", "counts": ["failed", "cancelled"]})
    created = client.post("/v1/sandboxes", json=sandbox_request(pilot=widest), headers=headers)
    assert created.status_code == 201, created.text
    assert len(created.json()["pilot"]["criteria"]) == 20 and created.json()["pilot"]["criteria"][0]["target"] == 1e12
