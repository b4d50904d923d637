"""Schemathesis against the service's OpenAPI document, over real HTTP to a `govern serve` process on SQLite
and on PostgreSQL: every operation, as every role and without a token, with data that fits the document and
data that does not, and again on records that exist. No response may be a 5xx, every status must be one the
document lists, and every body must match the schema it documents.

Bounded: EXAMPLES cases per operation, role and mode (GOVERN_TEST_SCHEMATHESIS_EXAMPLES raises it for a deeper
local run), derandomized so that a run is reproducible, no shrinking, no example database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from schemathesis.generation.modes import GenerationMode

from govern.api import create_app
from govern.db.database import create_db_engine, session_scope
from govern.db.public import TokenCreate
from govern.records.tokens import create_token
from govern.settings import Settings
from tests.api.test_api import example
from tests.conftest import fresh_database
from tests.live_service import running_service
from tests.records.test_procurement_api import sandbox_request

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("GOVERN_TEST_SCHEMATHESIS_EXAMPLES", "6"))
ROLES = {"submitter": "materials-rnd", "compliance": "audit", "procurement": "procurement", "producer": "materials-rnd", "admin": "ops"}
NEGATIVE_ROLES = ("submitter", "admin")
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
RUN = settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
)

# The app factory's document, read here to name the operations at collection; each live service must serve it.
DOCUMENT = json.loads(json.dumps(create_app(Settings(database_url="sqlite://")).openapi()))
SCHEMA = schemathesis.openapi.from_dict(json.loads(json.dumps(DOCUMENT)))
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory) -> Iterator[tuple[str, dict[str | None, dict[str, str]], dict[str, str]]]:
    """A live service on a fresh database: its URL, headers for each role (None: no token), and the ids of
    records made through it, so that operations on one resource also meet one that exists."""
    with fresh_database(request, tmp_path_factory.mktemp("schemathesis")) as database_url, running_service(database_url) as url:
        engine = create_db_engine(database_url)
        with session_scope(engine) as session:
            headers = {
                role: {"Authorization": f"Bearer {create_token(session, TokenCreate(role=role, team=team, name='schemathesis'))[1]}"}
                for role, team in ROLES.items()
            }
        engine.dispose()
        assert httpx.get(f"{url}/openapi.json", timeout=60).json() == DOCUMENT
        yield url, {None: {}, **headers}, _records(url, headers)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_response_is_documented_and_no_5xx(service, label):
    url, headers, records = service
    operation = OPERATIONS[label]
    existing = {name: records[name] for name in (p.name for p in operation.path_parameters) if name in records}
    runs = [(role, GenerationMode.POSITIVE, {}) for role in headers]
    runs += [(role, GenerationMode.POSITIVE, existing) for role in headers if existing]
    # Without a token every request is a 401 before its data is read, and request validation comes before the
    # authorization policy: invalid data goes in as the narrowest role and the widest.
    runs += [(role, GenerationMode.NEGATIVE, {}) for role in NEGATIVE_ROLES]
    failures: list[str] = []
    for role, mode, path_parameters in runs:
        try:
            failures.extend(_run(operation, url, headers[role], mode, path_parameters, f"{role or 'no token'}, {mode.value}"))
        except Unsatisfiable:
            break  # nothing in the operation to make invalid (the negative runs come last)
    assert not failures, "\n\n".join(failures)


def _run(operation, url: str, headers: dict[str, str], mode: GenerationMode, path_parameters: dict[str, str], who: str) -> list[str]:
    """Every failing case of one bounded run, described (the run itself never stops at the first)."""
    failures: list[str] = []

    @RUN
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    def probe(case) -> None:
        try:
            response = case.call(base_url=url, headers=headers, timeout=60)
        except requests.RequestException as broken:  # e.g. a stream that ends midway after its 200
            failures.append(f"[{who}] the response broke off: {broken}")
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, BaseExceptionGroup) as failure:
            failures.append(f"[{who}] {failure}")

    probe()
    return failures


def _records(url: str, headers: dict[str, dict[str, str]]) -> dict[str, str]:
    """A vendor, an approved sandbox, a queued submission with its job, and a waiver, made as their owners do."""
    submitter, procurement = headers["submitter"], headers["procurement"]
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=procurement).status_code == 200
        assert client.post("/v1/sandboxes", json=sandbox_request(budget="1000.00"), headers=submitter).status_code == 201
        assert client.post("/v1/sandboxes/SBX-2026-014/approve", headers=procurement).status_code == 200
        manifest, circuit = example("vqe-h2-ibm")
        submitted = client.post("/v1/submissions", json={"manifest": manifest, "circuit": circuit}, headers=submitter)
        assert submitted.status_code == 201, submitted.text
        submission_id = submitted.json()["submission"]["id"]
        (job,) = client.get(f"/v1/submissions/{submission_id}/jobs", headers=submitter).json()["items"]
        expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        waiver = client.post(
            "/v1/waivers", json={"rule": "PR-005", "team": "materials-rnd", "reason": "a schemathesis run", "expires": expires},
            headers=submitter,
        )
        assert waiver.status_code == 201, waiver.text
    return {"name": "ibm", "sandbox_id": "SBX-2026-014", "submission_id": submission_id, "job_id": job["id"], "waiver_id": waiver.json()["id"]}


def test_the_document_lists_every_refusal_of_every_operation():
    """What schemathesis can only meet by chance, checked on the document: refusals before any route on every
    operation, 401 and 503 wherever a token is needed, 404 wherever the path names a resource, no 5xx but 503."""
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"413", "415", "422", "431"} <= codes, (method, path)
            if operation.get("security"):
                assert {"401", "503"} <= codes, (method, path)
            if "{" in path and method != "put":  # a PUT creates what its path names
                assert "404" in codes, (method, path)
            assert not any(code.startswith("5") and code != "503" for code in codes), (method, path)
