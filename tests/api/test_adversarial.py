"""Issue 11's attacks, tried as a hostile or careless user would: through `govern check` in a child process
and through a live `govern serve` on PostgreSQL over loopback.

Every case must be refused (a deny, a 4xx or exit 2), within a bound (a request times out after 5 s; a
CLI run, whose start alone imports Qiskit, is killed after 30 s), with the process's memory bounded (the
CLI's own peak RSS from wait4; the service's RSS sampled throughout), and, for the service, with `/healthz`
answering throughout."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from tests.adversary import CliRun, rss_mib, run_cli, watched
from tests.live_service import serving

pytestmark = pytest.mark.slow

REQUEST_TIMEOUT_S = 5.0
CLI_PEAK_MIB = 700
"""The CLI's own peak: Python, Qiskit and the policy engine's client side come to about 300 MiB."""
SERVICE_GROWTH_MIB = 300
"""What one attack may add to the service's resident memory (its caches are bounded well below this)."""
CACHE_BYTES = 8_000_000
"""The service's profile cache bound here (GOVERN_PROFILE_CACHE_BYTES), so that 100 large circuits exceed it."""
CACHE_GROWTH_MIB = 60

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
FAKE_GITLAB_TOKEN = "glpat-" + "Zq3xT9vB2mK7wP4nR8sY"
FAKE_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhZHZlcnNhcnkiLCJuYW1lIjoiTWFsbG9yeSIsImlhdCI6MTcwMDAwMDAwMH0."
    "c2lnbmF0dXJlLW5vdC1yZWFsLWJ1dC1sb29rcy1yaWdodA"
)


def manifest(**spec_overrides) -> dict:
    """A Bell experiment that is allowed as it stands; each attack changes one thing."""
    spec = {
        "purpose": "Adversarial suite",
        "circuit": {"path": "circuit.qasm"},
        "backend": {"vendor": "local", "device": "aer_simulator"},
        "shots": 100,
        "datasets": [{"namespace": "s3://qa-data", "name": "baselines/bell", "classification": "internal",
                      "containsPII": False, "region": "us-east"}],
        "hyperparameters": {"seed": 11},
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "govern/v1", "kind": "Experiment",
        "metadata": {"name": "adversary", "team": "platform-qa", "owner": "sam@example.com", "labels": {"costCenter": "CC-0100"}},
        "spec": spec,
    }


def nested_gates(levels: int = 10) -> str:
    """Each level calls the one below ten times: 10^levels CX gates once expanded, in about 1 KB."""
    lines = ['OPENQASM 2.0;', 'include "qelib1.inc";', "gate g0 a, b { cx a, b; }"]
    for level in range(1, levels + 1):
        lines.append(f"gate g{level} a, b {{ " + " ".join([f"g{level - 1} a, b;"] * 10) + " }")
    lines += ["qreg q[2];", f"g{levels} q[0], q[1];"]
    return "\n".join(lines) + "\n"


HUGE_REGISTER = "OPENQASM 2.0; qreg q[1000000000];"
WIDE_AND_LONG = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1000];\n' + "h q;\n" * 1000
"""Within the qubit limit, but 10^6 operations once broadcast: refused before Qiskit builds any of them."""


# --- through the CLI -------------------------------------------------------------------------------


def write_experiment(folder: Path, circuit: str | bytes | None, document: dict | str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if circuit is not None:
        (folder / "circuit.qasm").write_bytes(circuit if isinstance(circuit, bytes) else circuit.encode())
    path = folder / "experiment.yaml"
    text = document if isinstance(document, str) else yaml.safe_dump(document or manifest(), sort_keys=False)
    path.write_text(text)
    return path


def check(path: Path, *extra: str) -> CliRun:
    run = run_cli("check", str(path), "--format", "json", *extra, cwd=path.parent, timeout_s=30)
    assert "Traceback" not in run.stderr, run.stderr
    assert run.peak_rss_mib < CLI_PEAK_MIB, f"govern check peaked at {run.peak_rss_mib:.0f} MiB"
    return run


CLI_INPUT_ERRORS = {
    "a billion qubits": (HUGE_REGISTER, None, "qubit"),
    "10^6 operations before parsing": (WIDE_AND_LONG, None, "operation"),
    "nested gates expanding to 10^10": (nested_gates(), None, "operation"),
    "an empty circuit": ("", None, "empty"),
    "undecodable bytes": (b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q\xff\xfe[0];\n', None, "line"),
    "the circuit path outside the tree": (None, manifest(circuit={"path": "/etc/passwd"}), "spec.circuit.path"),
    "the circuit path climbing out": (None, manifest(circuit={"path": "../../outside/x.qasm"}), "spec.circuit.path"),
    "an include climbing out": ('OPENQASM 2.0;\ninclude "../../../../etc/passwd";\nqreg q[1];\n', None, "include"),
    "a 400-byte dataset namespace": (BELL, manifest(datasets=[{"namespace": "s3://" + "n" * 400, "name": "x",
                                                                "classification": "internal", "containsPII": False,
                                                                "region": "us-east"}]), "namespace"),
    "NaN shots": (BELL, yaml.safe_dump(manifest()).replace("shots: 100", "shots: .nan"), "shots"),
}


@pytest.mark.parametrize("case", list(CLI_INPUT_ERRORS))
def test_cli_refuses_with_exit_2_and_never_echoes_a_refused_file(case, tmp_path):
    circuit, document, named = CLI_INPUT_ERRORS[case]
    run = check(write_experiment(tmp_path / "tree" / "experiment", circuit, document))
    assert run.exit_code == 2, (run.stdout, run.stderr)
    output = run.stdout + run.stderr
    assert named in output.lower() or named in output
    assert "root:" not in output and "'root'" not in output


def test_cli_refuses_a_shot_count_the_database_cannot_store(tmp_path):
    run = check(write_experiment(tmp_path, BELL, manifest(shots=2**63)))
    assert run.exit_code == 2
    assert "spec.shots" in run.stdout and "2147483647" in run.stdout


def test_cli_denies_a_secret_in_a_circuit_comment_and_prints_none_of_it(tmp_path):
    circuit = BELL.replace("h q[0];", f"// token {FAKE_GITLAB_TOKEN}\nh q[0];")
    document = manifest()
    document["metadata"]["labels"]["note"] = FAKE_JWT
    run = check(write_experiment(tmp_path, circuit, document))
    assert run.exit_code == 1, run.stdout
    assert FAKE_GITLAB_TOKEN not in run.stdout + run.stderr and FAKE_JWT not in run.stdout + run.stderr


def test_cli_reads_a_version_less_file_that_includes_qelib1(tmp_path):
    run = check(write_experiment(tmp_path, BELL.replace("OPENQASM 2.0;\n", "")))
    assert run.exit_code == 0, run.stdout + run.stderr


def test_one_bad_document_never_aborts_the_batch(tmp_path):
    good = write_experiment(tmp_path / "good", BELL)
    deep = tmp_path / "deep" / "experiment.yaml"
    deep.parent.mkdir()
    deep.write_text("apiVersion: govern/v1\nkind: Experiment\nmetadata: " + "[" * 500 + "]" * 500 + "\n")
    sarif, report = tmp_path / "report.sarif", tmp_path / "report.json"
    for output, form in ((sarif, "sarif"), (report, "json")):
        run = run_cli("check", str(good), str(deep), "--format", form, "--output", str(output), cwd=tmp_path, timeout_s=30)
        assert run.exit_code == 2, run.stderr
        assert "Traceback" not in run.stderr
    assert json.loads(sarif.read_text())["runs"][0]["results"], "the deep document's error is in the SARIF"
    statuses = {Path(result["source"]).parent.name: result["status"] for result in json.loads(report.read_text())["results"]}
    assert statuses == {"good": "allowed", "deep": "error"}


# --- through a live service ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(postgres_admin, tmp_path_factory):
    """`govern serve` on a PostgreSQL database of its own, with tokens for every role it needs."""
    name = f"govern_adversarial_{uuid.uuid4().hex[:10]}"
    connect = dict(host=postgres_admin.host, port=postgres_admin.port, user=postgres_admin.username,
                   dbname=postgres_admin.database, autocommit=True)
    with psycopg.connect(**connect) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    database_url = postgres_admin.set(database=name).render_as_string(hide_password=False)
    env = {"GOVERN_DATABASE_URL": database_url, "GOVERN_PROFILE_CACHE_BYTES": str(CACHE_BYTES)}

    def govern(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "govern", *args], env={**__import__("os").environ, **env},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    govern("db", "upgrade")
    tokens = {role: govern("token", "create", "--role", role, "--team", team)
              for role, team in (("submitter", "platform-qa"), ("procurement", "finance"), ("producer", "lineage"),
                                 ("compliance", "audit"))}
    log = tmp_path_factory.mktemp("service") / "service.log"
    with log.open("wb") as output, serving(database_url, env=env, log=output) as (url, process):
        yield {"url": url, "pid": process.pid, "tokens": tokens, "log": log}
    with psycopg.connect(**connect) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def call(service, method: str, path: str, role: str = "submitter", **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {service['tokens'][role]}", **kwargs.pop("headers", {})}
    timeout = kwargs.pop("timeout", REQUEST_TIMEOUT_S)
    return httpx.request(method, f"{service['url']}{path}", headers=headers, timeout=timeout, **kwargs)


def refused_cleanly(service, attack) -> httpx.Response:
    """Run one attack while watching the service: a 4xx or a deny, memory bounded, /healthz answering."""
    baseline = rss_mib(service["pid"])
    with watched(service["pid"], service["url"]) as watch:
        response = attack()
    assert not watch.health_failures, watch.health_failures
    assert watch.peak_mib - baseline < SERVICE_GROWTH_MIB, f"service grew {watch.peak_mib - baseline:.0f} MiB"
    assert response.status_code < 500, response.text
    refused = 400 <= response.status_code < 500 or response.json().get("outcome") == "denied"
    assert refused, response.text
    return response


def checked(service, document: dict, circuit: str = BELL, **kwargs):
    return lambda: call(service, "POST", "/v1/check", json={"manifest": document, "circuit": circuit}, **kwargs)


def raw_check(service, body: str):
    headers = {"Content-Type": "application/json"}
    return lambda: call(service, "POST", "/v1/check", content=body.encode("utf-8", "surrogatepass"), headers=headers)


SERVICE_CIRCUITS = {
    "a billion qubits": HUGE_REGISTER,
    "10^6 operations before parsing": WIDE_AND_LONG,
    "nested gates expanding to 10^10": nested_gates(),
    "an empty circuit": "",
    "an include of the server's files": 'OPENQASM 2.0;\ninclude "../../../../etc/passwd";\nqreg q[1];\n',
}


@pytest.mark.parametrize("case", list(SERVICE_CIRCUITS))
def test_service_refuses_circuits_that_would_exhaust_or_escape_it(service, case):
    response = refused_cleanly(service, checked(service, manifest(), SERVICE_CIRCUITS[case]))
    assert "root:" not in response.text and "'root'" not in response.text


def body_with(value: str) -> str:
    """A /v1/check body whose manifest carries `value` (raw JSON text) as a hyperparameter."""
    text = json.dumps({"manifest": manifest(hyperparameters={"seed": 11, "x": "PLACEHOLDER"}), "circuit": BELL})
    return text.replace('"PLACEHOLDER"', value)


ODD_BODIES = {
    "NaN": body_with("NaN"),
    "Infinity": body_with("Infinity"),
    "1e400": body_with("1e400"),
    "a lone surrogate": body_with('"\\ud800"'),
    "nesting 900 deep": body_with("[" * 900 + "]" * 900),
    "a NUL byte": body_with('"a\\u0000b"'),
    "shots over 2^63": json.dumps({"manifest": manifest(shots=2**63 + 1), "circuit": BELL}),
    "an integer beyond int64": body_with(str(2**70)),
}


@pytest.mark.parametrize("case", list(ODD_BODIES))
def test_service_refuses_odd_json_with_a_4xx(service, case):
    response = refused_cleanly(service, raw_check(service, ODD_BODIES[case]))
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("path", ["/v1/submissions?cursor=99999999999999999999", "/v1/submissions/abc%00def",
                                  "/v1/audit/decisions?since=99999-01-01", "/v1/lineage/runs/%00/upstream"])
def test_service_bounds_query_and_path_parameters(service, path):
    role = "compliance" if "audit" in path or "lineage" in path else "submitter"
    response = refused_cleanly(service, lambda: call(service, "GET", path, role))
    assert 400 <= response.status_code < 500


def test_an_absurd_price_model_is_refused_and_checks_keep_working(service):
    vqe = manifest(backend={"vendor": "ibm", "device": "ibm_brisbane", "region": "us-east"}, sandbox="SBX-NONE")
    before = call(service, "POST", "/v1/check", json={"manifest": vqe, "circuit": BELL}).status_code
    refused_cleanly(service, lambda: call(service, "PUT", "/v1/vendors/ibm", "procurement",
                                          content=b'{"approved": true, "priceModel": {"perShot": 1e400}}',
                                          headers={"Content-Type": "application/json"}))
    assert call(service, "POST", "/v1/check", json={"manifest": vqe, "circuit": BELL}).status_code == before == 200


def test_a_huge_header_is_refused_before_it_is_read(service):
    host, port = service["url"].removeprefix("http://").split(":")

    def attack() -> httpx.Response:
        sent = 0
        chunk = b"a" * (1 << 20)
        with socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT_S) as connection:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
            try:
                while sent < 100 << 20:
                    connection.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            try:
                head = connection.recv(256)
            except OSError:
                head = b""
        assert sent < 100 << 20, "the server read a 100 MB header"
        status = int(head.split()[1]) if head.startswith(b"HTTP/1.1") else 431
        return httpx.Response(status, text=head.decode(errors="replace"))

    assert refused_cleanly(service, attack).status_code == 431


def test_secrets_anywhere_are_denied_and_never_answered_back(service):
    circuit = BELL.replace("h q[0];", f"// {FAKE_GITLAB_TOKEN}\nh q[0];")
    document = manifest(purpose=f"uses {FAKE_JWT}")
    response = refused_cleanly(service, checked(service, document, circuit))
    assert FAKE_JWT not in response.text and FAKE_GITLAB_TOKEN not in response.text


def test_a_manifest_whose_lineage_could_never_be_stored_is_refused(service):
    long = manifest(datasets=[{"namespace": "s3://" + "n" * 400, "name": "x", "classification": "internal",
                               "containsPII": False, "region": "us-east"}])
    response = refused_cleanly(service, lambda: call(service, "POST", "/v1/submissions",
                                                     json={"manifest": long, "circuit": BELL}))
    assert response.status_code == 422


def test_a_producer_cannot_write_into_governs_namespaces(service):
    event = {
        "eventType": "FAIL", "eventTime": "2026-12-01T12:00:00Z",
        "producer": "https://example.com/forger", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": "govern.platform-qa", "name": "adversary", "facets": {}},
        "inputs": [{"namespace": "s3://qa-data", "name": "forged"}], "outputs": [],
    }
    response = refused_cleanly(service, lambda: call(service, "POST", "/api/v1/lineage", "producer", json=event))
    assert response.status_code == 403


def test_a_check_never_reveals_another_teams_sandbox(service):
    theirs = "SBX-ADV-RND"
    vendor = call(service, "PUT", "/v1/vendors/ibm", "procurement", json={"approved": True, "regions": ["us-east"]})
    assert vendor.status_code == 200, vendor.text
    created = call(service, "POST", "/v1/sandboxes", "procurement", json={
        "id": theirs, "team": "materials-rnd", "vendor": "ibm", "budget": "100.00", "devices": ["ibm_brisbane"],
        "start": "2026-11-01T00:00:00Z", "end": "2027-01-15T00:00:00Z"})
    assert created.status_code == 201, created.text
    ibm = {"vendor": "ibm", "device": "ibm_brisbane", "region": "us-east"}
    answers = [call(service, "POST", "/v1/check", json={"manifest": manifest(backend=ibm, sandbox=sandbox), "circuit": BELL})
               for sandbox in (theirs, "SBX-0000-000")]
    texts = [answer.text.replace(theirs, "ID").replace("SBX-0000-000", "ID") for answer in answers]
    strip = [json.loads(text) for text in texts]
    for body in strip:
        body.get("decision", {}).pop("decision_id", None)
        body.get("decision", {}).pop("input_hash", None)
        body.pop("decision_id", None)
    assert strip[0].get("decision", {}).get("deny") == strip[1].get("decision", {}).get("deny")
    assert "materials-rnd" not in answers[0].text


def sandbox_with_pilot(terms: str) -> str:
    """A POST /v1/sandboxes body whose pilot terms are `terms` (raw JSON text, which json.dumps could not write)."""
    body = {"id": "SBX-ADV-PILOT", "team": "platform-qa", "vendor": "ibm", "budget": "100.00", "devices": ["ibm_brisbane"],
            "start": "2026-11-01T00:00:00Z", "end": "2027-01-15T00:00:00Z", "pilot": "PLACEHOLDER"}
    return json.dumps(body).replace('"PLACEHOLDER"', terms)


def pilot_terms(target: str = "0.9", metric: str = '"success_rate"', criteria: int = 1, objective: str = "Scale?") -> str:
    criterion = '{"name": "c%d", "metric": %s, "direction": "at_least", "target": %s}'
    listed = ", ".join(criterion % (number, metric, target) for number in range(criteria))
    return f'{{"objective": "{objective}", "criteria": [{listed}], "failureBudget": {{"maxFailedJobs": 2}}}}'


HOSTILE_PILOTS = {
    "21 criteria": pilot_terms(criteria=21),
    "a NaN target": pilot_terms(target="NaN"),
    "an infinite target": pilot_terms(target="-Infinity"),
    "a target of 1e400": pilot_terms(target="1e400"),
    "a negative target": pilot_terms(target="-0.1"),
    "a share target of 90": pilot_terms(target="90"),
    "a target nested 900 deep": pilot_terms(target="[" * 900 + "]" * 900),
    "an unknown metric": pilot_terms(metric='"vibes"'),
    "outcome_probability with no outcome": pilot_terms(metric='"outcome_probability"'),
    "a 10 MB objective": pilot_terms(objective="o" * 10 * 1024 * 1024),
}


@pytest.mark.parametrize("case", list(HOSTILE_PILOTS))
def test_service_refuses_hostile_pilot_terms_with_a_4xx_saying_why(service, case):
    body, headers = sandbox_with_pilot(HOSTILE_PILOTS[case]).encode(), {"Content-Type": "application/json"}
    response = refused_cleanly(service, lambda: call(service, "POST", "/v1/sandboxes", "procurement", content=body, headers=headers))
    assert response.status_code in (413, 422) and response.json()["detail"][0]["msg"], response.text
    assert call(service, "GET", "/v1/sandboxes/SBX-ADV-PILOT", "procurement").status_code == 404


def test_the_access_log_never_records_a_token(service):
    call(service, "GET", "/healthz?access_token=SECRET-IN-QUERY-123")
    call(service, "GET", "/v1/submissions?token=SECRET-IN-QUERY-456")
    text = service["log"].read_text(errors="replace")
    assert "SECRET-IN-QUERY" not in text and service["tokens"]["submitter"] not in text


def test_distinct_large_circuits_do_not_grow_the_service_without_bound(service):
    """100 distinct 900 KB circuits, refused after their header: before the cache was bounded in bytes this
    kept every one (90 MB here; the filed case was 300 of them and 900 MB, never freed)."""
    padding = "// padding line of a large invalid circuit\n" * 21_000
    baseline = rss_mib(service["pid"])
    with watched(service["pid"], service["url"], interval_s=1.0) as watch:
        for number in range(100):
            circuit = f"OPENQASM 2.0;\nqreg q[1];\nbogus{number} q[0];\n" + padding
            response = call(service, "POST", "/v1/check", json={"manifest": manifest(), "circuit": circuit}, timeout=30)
            assert 400 <= response.status_code < 500, response.text
    assert not watch.health_failures, watch.health_failures
    assert watch.peak_mib - baseline < CACHE_GROWTH_MIB, f"service grew {watch.peak_mib - baseline:.0f} MiB"
