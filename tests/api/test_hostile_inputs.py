"""Hostile inputs, exact and bounded: each is refused with its status code and the field it concerns, never a 500
(issue 11). Through the ASGI app on SQLite and PostgreSQL where the database matters, and through a live
`govern serve` over loopback for the body and header bounds."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.settings import Settings
from tests.api.test_api import auth, example, token_for
from tests.conftest import EXAMPLES
from tests.live_service import free_port, running_service

pytestmark = pytest.mark.slow

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(database_url):
    settings = Settings(database_url=database_url, migrate_on_start=True, max_request_bytes=100_000)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def sqlite_client(tmp_path):
    """For what never reaches the database: the same app on SQLite only."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'govern.db'}", migrate_on_start=True, max_request_bytes=300_000)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def check_body(**spec_changes) -> dict:
    manifest, circuit = example("vqe-h2-ibm")
    manifest["spec"].update(spec_changes)
    return {"manifest": manifest, "circuit": circuit}


def refused(response, status: int, *, loc: list | None = None, says: str = "") -> dict:
    """The response is `status` with FastAPI's error shape, naming `loc` and saying `says`."""
    assert response.status_code == status, response.text
    (error,) = response.json()["detail"]
    if loc is not None:
        assert error["loc"] == loc, error
    assert says in error["msg"], error
    return error


# 1. Bodies: bounded however sent, and strict JSON.


def test_a_declared_oversized_body_is_413_before_it_is_read(sqlite_client):
    headers = {**auth(token_for(sqlite_client, "submitter", "materials-rnd")), **JSON}
    refused(sqlite_client.post("/v1/check", content=b"x" * 300_001, headers=headers), 413, loc=["body"], says="300000-byte limit")


def test_a_chunked_oversized_body_is_413(sqlite_client):
    headers = {**auth(token_for(sqlite_client, "submitter", "materials-rnd")), **JSON}

    def chunks():
        for _ in range(100):
            yield b" " * 10_000

    refused(sqlite_client.post("/v1/check", content=chunks(), headers=headers), 413, loc=["body"])


@pytest.mark.parametrize(
    ("raw", "loc", "says"),
    [
        ('{"manifest": {"spec": {"shots": NaN}}}', ["body", "manifest", "spec", "shots"], "NaN is not a number"),
        ('{"manifest": {"spec": {"shots": Infinity}}}', ["body", "manifest", "spec", "shots"], "Infinity is not a number"),
        ('{"manifest": {"spec": {"shots": -Infinity}}}', ["body", "manifest", "spec", "shots"], "-Infinity is not a number"),
        ('{"manifest": {"spec": {"shots": 1e400}}}', ["body", "manifest", "spec", "shots"], "overflows to infinity"),
        ('{"manifest": {"spec": {"purpose": "\\ud800"}}}', ["body", "manifest", "spec", "purpose"], "lone surrogate"),
        ('{"manifest": {"spec": {"purpose": "a\\u0000b"}}}', ["body", "manifest", "spec", "purpose"], "NUL byte"),
        ('{"manifest": {"a\\u0000": 1}}', ["body", "manifest", "a\x00"], "key contains a NUL byte"),
        ('{"manifest": {"spec": {"shots": 9223372036854775808}}}', ["body", "manifest", "spec", "shots"], "integer outside"),
        ('{"manifest": {"spec": {"shots": -9223372036854775809}}}', ["body", "manifest", "spec", "shots"], "integer outside"),
        ('{"manifest": {"x": [' + "[" * 70 + "]" * 70 + "]}}", None, "nested deeper than 64 levels"),
        ('{"manifest": ' + "[" * 900 + "]" * 900 + "}", None, "nested deeper than 64 levels"),
        ('{"manifest": ' + "[" * 100_000 + "]" * 100_000 + "}", ["body"], "nested deeper than 64 levels"),
        ('{"manifest": {', ["body"], "malformed JSON"),
    ],
)
def test_json_that_cannot_be_held_exactly_is_422_naming_its_pointer(sqlite_client, raw, loc, says):
    headers = {**auth(token_for(sqlite_client, "submitter", "materials-rnd")), **JSON}
    response = sqlite_client.post("/v1/check", content=raw.encode(), headers=headers)
    error = refused(response, 422, loc=loc, says=says)
    if loc and len(loc) > 1:
        assert "/".join(str(part) for part in loc[1:]) in error["msg"]


def test_integers_at_the_edge_of_the_database_range_pass_the_body_check(sqlite_client):
    headers = {**auth(token_for(sqlite_client, "submitter", "materials-rnd")), **JSON}
    body = check_body(hyperparameters={"low": -(2**63), "high": 2**63 - 1, "depth": [[[1.5]]]})
    response = sqlite_client.post("/v1/check", content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text


def test_an_encoded_body_never_skips_the_strict_parse(sqlite_client):
    headers = {**auth(token_for(sqlite_client, "submitter", "materials-rnd")), **JSON, "Content-Encoding": "gzip"}
    refused(sqlite_client.post("/v1/check", content=b'{"manifest": NaN}', headers=headers), 415, loc=["header", "content-encoding"])


@pytest.mark.parametrize(
    ("target", "loc"),
    [("/v1/sandboxes/a%00b", ["path"]), ("/v1/submissions?team=a%00b", ["query", "team"]), ("/v1/submissions/x%00", ["path"])],
)
def test_nul_in_the_path_or_query_is_422(client, target, loc):
    headers = auth(token_for(client, "admin", "platform"))
    refused(client.get(target, headers=headers), 422, loc=loc, says="NUL byte")


# 1 and 2 over real HTTP: a live `govern serve`, its memory watched.


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One `govern serve` on SQLite for the loopback cases, with its process id (to read its RSS)."""
    port = free_port()
    database = tmp_path_factory.mktemp("live") / "govern.db"
    with running_service(f"sqlite:///{database}", port=port, env={"GOVERN_MAX_REQUEST_BYTES": "100000"}) as url:
        yield url, port, _serving_pid(port)


def _serving_pid(port: int) -> int:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in arguments and str(port).encode() in arguments:
            return int(cmdline.parent.name)
    raise AssertionError(f"no govern serve on port {port}")


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def _send_until_refused(port: int, head: bytes, chunk: bytes, most: int) -> bytes:
    """Send `head`, then `chunk` up to `most` times while the server reads; return what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head)
        try:
            for _ in range(most):
                connection.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        connection.settimeout(10)
        answer = b""
        try:
            while data := connection.recv(65536):
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


def test_live_a_100_mb_authorization_header_is_431_and_never_held(live):
    url, port, pid = live
    before = _rss_mb(pid)
    head = b"GET /v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
    answer = _send_until_refused(port, head, b"a" * 65536, 1600)  # 100 MiB, if the server would take it
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]
    if answer:
        assert b"GOVERN_MAX_HEADER_BYTES" in answer
    assert _rss_mb(pid) - before < 50
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


def test_live_headers_under_the_limit_still_work(live):
    url, _, _ = live
    assert httpx.get(f"{url}/healthz", headers={"X-Padding": "p" * 60_000}, timeout=5).status_code == 200
    many = {f"X-H{i}": "v" * 100 for i in range(700)}
    assert httpx.get(f"{url}/healthz", headers=many, timeout=5).status_code == 431


def test_live_a_declared_oversized_body_is_413_before_it_is_sent(live):
    _, port, pid = live
    before = _rss_mb(pid)
    head = b"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    answer = _send_until_refused(port, head, b" " * 65536, 1600)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"100000-byte limit" in answer
    assert _rss_mb(pid) - before < 50


def test_live_a_chunked_body_is_413_once_it_passes_the_limit(live):
    _, port, pid = live
    before = _rss_mb(pid)
    head = b"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = _send_until_refused(port, head, b"10000\r\n" + b" " * 65536 + b"\r\n", 1600)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert _rss_mb(pid) - before < 50


def test_live_strict_json_over_loopback(live):
    url, _, _ = live
    response = httpx.post(f"{url}/v1/check", content=b'{"manifest": {"spec": {"shots": 1e400}}}', headers=JSON, timeout=10)
    refused(response, 422, loc=["body", "manifest", "spec", "shots"], says="/manifest/spec/shots")


# 3. Cursors and query parameters: bounded, 422 naming the parameter.


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("target", "parameter"),
    [
        (f"/v1/submissions?cursor={HUGE}", "cursor"),
        ("/v1/submissions?cursor=-1", "cursor"),
        (f"/v1/submissions?cursor={2**31}", "cursor"),
        (f"/api/v1/lineage/events?since={2**31}", "since"),
        (f"/v1/submissions?limit={HUGE}", "limit"),
        ("/v1/submissions?since=9999-12-31T23:59:59-23:59", "since"),
        ("/v1/submissions?until=0001-01-01T00:00:00%2B14:00", "until"),
        ("/v1/submissions?since=10000-01-01T00:00:00Z", "since"),
        (f"/v1/submissions?since={HUGE}", "since"),
        ("/v1/submissions?team=" + "t" * 64, "team"),
        ("/v1/audit/decisions?since=9999-12-31T23:59:59-23:59", "since"),
        (f"/v1/audit/decisions?until={HUGE}", "until"),
        ("/v1/audit/decisions?rule=" + "R" * 81, "rule"),
        (f"/api/v1/lineage/events?since={HUGE}", "since"),
        (f"/api/v1/lineage/runs/x/upstream?depth={HUGE}", "depth"),
        (f"/api/v1/lineage/datasets/a/b/runs?limit={HUGE}", "limit"),
        ("/api/v1/lineage?nodeId=" + "j" * 2001, "nodeId"),
        ("/v1/sandboxes?team=" + "t" * 64, "team"),
        ("/v1/waivers?team=" + "t" * 64, "team"),
    ],
)
def test_out_of_range_query_parameters_are_422(client, target, parameter):
    response = client.get(target, headers=auth(token_for(client, "admin", "platform")))
    assert response.status_code == 422, response.text
    assert ["query", parameter] in [error["loc"] for error in response.json()["detail"]]


def test_the_widest_accepted_values_answer_200(client):
    headers = auth(token_for(client, "admin", "platform"))
    for target in (
        f"/v1/submissions?cursor={2**31 - 1}&since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z",
        f"/api/v1/lineage/events?since={2**31 - 1}",
        "/v1/audit/decisions?since=0001-01-01T00:00:00&until=9999-12-31T00:00:00%2B01:00",
    ):
        assert client.get(target, headers=headers).status_code == 200, target


def test_a_vendor_name_longer_than_its_column_is_422(client):
    headers = {**auth(token_for(client, "procurement", "procurement")), **JSON}
    response = client.put("/v1/vendors/" + "v" * 201, content=b"{}", headers=headers)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["path", "name"]


# 4. Vendor price models: finite, non-negative, bounded; an invalid one on record denies, never a 500.


@pytest.mark.parametrize(
    ("price", "field"),
    [('{"perShot": 1e400}', "perShot"), ('{"perShot": 1000001}', "perShot"), ('{"perTask": -0.01}', "perTask"),
     ('{"perTask": 1e10}', "perTask"), ('{"ratePerSecond": 1e7}', "ratePerSecond"), ('{"secondsPerShot": 1e5}', "secondsPerShot"),
     ('{"baseSeconds": NaN}', "baseSeconds")],
)
def test_price_models_out_of_bounds_are_422_and_never_stored(client, price, field):
    procurement = {**auth(token_for(client, "procurement", "procurement")), **JSON}
    response = client.put("/v1/vendors/ibm", content=f'{{"dataProcessingAgreement": true, "priceModel": {price}}}', headers=procurement)
    assert response.status_code == 422, response.text
    assert field in [str(part) for part in response.json()["detail"][0]["loc"]]
    assert client.get("/v1/vendors", headers=procurement).json() == []


def test_the_largest_prices_give_a_finite_estimate(client):
    procurement = {**auth(token_for(client, "procurement", "procurement")), **JSON}
    prices = {"perTask": 1e9, "perShot": 1e6, "ratePerSecond": 1e6, "baseSeconds": 1e7, "secondsPerShot": 1e4}
    assert client.put("/v1/vendors/ibm", json={"dataProcessingAgreement": True, "priceModel": prices}, headers=procurement).status_code == 200
    submitter = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    checked = client.post("/v1/check", json=check_body(), headers=submitter)
    assert checked.status_code == 200 and checked.json()["outcome"] == "denied"
    assert 0 <= checked.json()["decision"]["estimate"]["cost"] < float("inf")
    submitted = client.post("/v1/submissions", json=check_body(), headers=submitter)
    assert submitted.status_code == 422 and "ledger can record" in submitted.json()["detail"]


@pytest.mark.parametrize("stored", [{"perShot": 1e300}, {"perShot": -1.0}, {"perShot": "free"}, {"unknown": 1}])
def test_an_invalid_price_model_on_record_denies_checks_and_submissions(client, stored):
    from sqlmodel import Session

    from govern.db.tables import VendorRecord

    with Session(client.app.state.db) as session:
        session.add(VendorRecord(name="ibm", data_processing_agreement=True, price_model=stored))
        session.commit()
    submitter = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    checked = client.post("/v1/check", json=check_body(), headers=submitter)
    assert checked.status_code == 200, checked.text
    (finding,) = checked.json()["decision"]["deny"]
    assert finding["rule"] == "GOV-ENGINE" and "vendor 'ibm' has a price model on record that is not valid" in finding["message"]
    submitted = client.post("/v1/submissions", json=check_body(), headers=submitter)
    assert submitted.status_code == 403 and submitted.json()["decision"]["deny"][0]["rule"] == "GOV-ENGINE"
    (listed,) = client.get("/v1/vendors", headers=submitter).json()
    assert listed["priceModel"] is None and "not valid" in listed["priceModelProblem"]


# 5. Streaming exports: the first query before the 200; a failure midway ends with an error record.


def _breaking(original, *, after: int):
    """`original`'s rows, then a failure once `after` of them are out."""

    def rows(*args, **kwargs):
        for count, row in enumerate(original(*args, **kwargs)):
            if count == after:
                break
            yield row
        raise RuntimeError("connection lost")

    return rows


@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_an_audit_export_that_fails_midway_ends_with_an_error_record(client, monkeypatch, export_format):
    import govern.api.routes.audit

    submitter = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    for _ in range(2):
        assert client.post("/v1/check", json=check_body(), headers=submitter).status_code == 200
    monkeypatch.setattr(govern.api.routes.audit, "walk", _breaking(govern.api.routes.audit.walk, after=1))
    response = client.get(f"/v1/audit/decisions?format={export_format}", headers=auth(token_for(client, "compliance", "audit")))
    assert response.status_code == 200
    last = response.text.splitlines()[-1]
    if export_format == "jsonl":
        assert "RuntimeError" in json.loads(last)["error"]
        assert len(response.text.splitlines()) == 2
    else:
        assert last.startswith("error,") and "the rest is missing" in last


def test_an_export_whose_first_query_fails_is_not_a_200(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import govern.api.routes.audit

    def unavailable(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("gone"))
        yield

    monkeypatch.setattr(govern.api.routes.audit, "walk", unavailable)
    response = client.get("/v1/audit/decisions?format=csv", headers=auth(token_for(client, "compliance", "audit")))
    assert response.status_code == 503 and "nothing was recorded" in response.json()["detail"]


def test_a_lineage_export_that_fails_midway_ends_with_an_error_record(client, monkeypatch):
    import govern.lineage.store.query

    submitter = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    assert client.post("/v1/submissions", json=check_body(), headers=submitter).status_code in (201, 403)
    producer = {**auth(token_for(client, "admin", "platform")), **JSON}
    for name in ("a", "b"):
        event = {"eventType": "START", "eventTime": "2026-11-24T12:00:00Z", "producer": "https://example.com/p",
                 "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                 "run": {"runId": "0190d0c6-52c6-7bb5-9a60-6e5c1bde0c1" + ("a" if name == "a" else "b")},
                 "job": {"namespace": "ci", "name": name}, "inputs": [], "outputs": []}
        assert client.post("/api/v1/lineage", json=event, headers=producer).status_code in (200, 201)
    monkeypatch.setattr(govern.lineage.store.query, "events", _breaking(govern.lineage.store.query.events, after=1))
    response = client.get("/api/v1/lineage/events", headers=producer)
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert len(lines) == 2 and "RuntimeError" in json.loads(lines[-1])["error"]


# 6. Shots and every integer that reaches the database.


@pytest.mark.parametrize("shots", [2**31, 2**63 - 1])
@pytest.mark.parametrize("path", ["/v1/check", "/v1/submissions"])
def test_a_shot_count_past_what_the_database_stores_is_422(client, path, shots):
    submitter = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    response = client.post(path, json=check_body(shots=shots), headers=submitter)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["problems"]
    assert problem["field"] == "spec.shots" and "2147483647" in problem["message"]


def test_the_largest_shot_count_is_decided_not_refused(client):
    submitter = {**auth(token_for(client, "submitter", "materials-rnd")), **JSON}
    response = client.post("/v1/submissions", json=check_body(shots=2**31 - 1), headers=submitter)
    assert response.status_code == 403 and "SEC-004" in [f["rule"] for f in response.json()["decision"]["deny"]]


def test_the_cli_refuses_a_shot_count_past_the_database_with_exit_two(cli, tmp_path):
    manifest, circuit = example("vqe-h2-ibm")
    manifest["spec"]["shots"] = 2**63
    manifest["spec"]["circuit"] = {"qasm": circuit}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(manifest))
    result = cli("check", str(path), "-f", "json")
    assert result.exit_code == 2
    (problem,) = json.loads(result.output)["results"][0]["error"]["problems"]
    assert problem["field"] == "spec.shots" and problem["line"] is not None


# 7. NUL bytes in any string or path parameter: 422 on PostgreSQL as on SQLite, before the database sees them.


@pytest.mark.parametrize(
    ("method", "target", "body", "loc"),
    [
        ("GET", "/v1/submissions/a%00b", None, ["path"]),
        ("GET", "/v1/jobs/a%00b", None, ["path"]),
        ("POST", "/v1/waivers/a%00b/approve", None, ["path"]),
        ("PUT", "/v1/vendors/a%00b", {}, ["path"]),
        ("GET", "/v1/audit/decisions?team=a%00", None, ["query", "team"]),
        ("GET", "/api/v1/lineage?nodeId=job:a%00:b", None, ["query", "nodeId"]),
        ("GET", "/v1/sandboxes?te%00am=x", None, ["query", "team"]),
        ("PUT", "/v1/vendors/ibm", {"regions": ["us\x00east"]}, ["body", "regions", 0]),
        ("POST", "/v1/sandboxes", {"id": "SBX\x001", "team": "materials-rnd"}, ["body", "id"]),
        ("POST", "/v1/waivers", {"reason": "because\x00"}, ["body", "reason"]),
        ("POST", "/api/v1/lineage", {"job": {"namespace": "ci", "name": "a\x00"}}, ["body", "job", "name"]),
        ("POST", "/v1/check", {"manifest": {"metadata": {"name": "x\x00"}}}, ["body", "manifest", "metadata", "name"]),
    ],
)
def test_nul_bytes_anywhere_are_422_never_500(client, method, target, body, loc):
    headers = {**auth(token_for(client, "admin", "platform")), **JSON}
    content = json.dumps(body).encode() if body is not None else None
    refused(client.request(method, target, content=content, headers=headers), 422, loc=loc, says="NUL byte")


# 8. In the CLI, one bad document never aborts the batch.


def _nested(levels: int) -> str:
    return "{deep: " * levels + "1" + "}" * levels


@pytest.mark.parametrize("output_format", ["sarif", "junit", "json"])
def test_one_bad_document_never_aborts_the_batch(cli, tmp_path, output_format):
    good = (EXAMPLES / "allowed" / "bell-local.yaml").read_text().replace("../circuits/bell.qasm", "bell.qasm")
    (tmp_path / "bell.qasm").write_text((EXAMPLES / "circuits" / "bell.qasm").read_text())
    bad = good.replace("shots: 2048", "shots: 2048\n  hyperparameters: " + _nested(500))
    odd_date = "apiVersion: govern/v1\nkind: Experiment\nmetadata: {name: odd, created: 2026-02-30}\n"
    (tmp_path / "batch.yaml").write_text("\n---\n".join([good, bad, odd_date, good.replace("name: bell-calibration", "name: bell-again")]))
    (tmp_path / "deep.json").write_text('{"kind": "Experiment", "spec": ' + "[" * 900 + "]" * 900 + "}")
    report = tmp_path / f"report.{output_format}"
    result = cli("check", str(tmp_path), "-f", output_format, "-o", str(report))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = report.read_text()
    assert "nested deeper than 64 levels" in text and "day is out of range" in text
    if output_format == "json":
        results = json.loads(text)["results"]
        errors = [r["error"] for r in results if r.get("error")]
        decided = [r for r in results if r.get("decision")]
        assert [r["name"] for r in decided] == ["bell-calibration", "bell-again"] and len(errors) == 3
        problems = [p for e in errors for p in e["problems"]]
        deep = next(p for p in problems if "nested deeper" in p["message"] and p["field"].startswith("spec.hyperparameters"))
        assert deep["line"] is not None
        assert any("day is out of range" in p["message"] for p in problems)


# 9. Manifest errors through the service are placed at line:col of the body that carried them.


def _position_of(text: str, needle: str) -> tuple[int, int]:
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


@pytest.mark.parametrize("path", ["/v1/check", "/v1/submissions"])
def test_manifest_errors_name_their_line_and_column_in_the_body(sqlite_client, path):
    body = check_body(shots=0, shotz=1)
    body["manifest"]["spec"]["datasets"][0]["classification"] = "secret"
    text = json.dumps(body, indent=2)
    submitter = {**auth(token_for(sqlite_client, "submitter", "materials-rnd")), **JSON}
    response = sqlite_client.post(path, content=text, headers=submitter)
    assert response.status_code == 422, response.text
    where = {p["field"]: (p["line"], p["column"]) for p in response.json()["problems"]}
    assert where["spec.shots"] == _position_of(text, '"shots"')
    assert where["spec.shotz"] == _position_of(text, '"shotz"')
    assert where["spec.datasets[0].classification"] == _position_of(text, '"classification"')
    assert all(line > 1 for line, _ in where.values())


def test_a_missing_circuit_is_placed_at_the_circuit_the_manifest_names(sqlite_client):
    body = check_body()
    body.pop("circuit")
    text = json.dumps(body, indent=1)
    submitter = {**auth(token_for(sqlite_client, "submitter", "materials-rnd")), **JSON}
    (problem,) = sqlite_client.post("/v1/check", content=text, headers=submitter).json()["problems"]
    assert problem["field"] == "circuit" and (problem["line"], problem["column"]) == _position_of(text, '"circuit"')
