"""`govern demo`: the whole path on embedded defaults, against a real service on a loopback port.

check → submit → decision → lineage → dispatch (Aer ideal, and an IBM device's calibration snapshot
simulated offline) → result → reproduce → audit, with the packaged example experiments, so it runs from
any folder on a fresh install. The service, its in-process worker and the lineage deliverer are the
production code; only the database is a fresh SQLite file of the demo's own.
"""

from __future__ import annotations

import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import platformdirs
import uvicorn
from rich.console import Console
from sqlalchemy.engine import Engine

from govern.api import create_app
from govern.audit.log import verify
from govern.cli.demo_pilot import PILOT_TERMS, PilotSteps
from govern.client import ClientError, GovernClient, request_body
from govern.db.database import create_db_engine, session_scope, upgrade
from govern.db.public import TokenCreate
from govern.manifest.documents import load_documents
from govern.manifest.scaffold import examples_dir
from govern.records.tokens import create_token
from govern.settings import Settings

SANDBOX = "SBX-2026-014"
EXPERIMENTS = {
    "ideal": "allowed/bell-local.yaml",
    "noisy": "allowed/vqe-h2-ibm.yaml",
    "denied": "denied/restricted-to-ibm.yaml",
}
FINAL = {"succeeded", "failed", "cancelled"}

JsonObject = dict[str, Any]
"""A JSON object as the service answers it."""


def default_database() -> Path:
    return Path(platformdirs.user_data_dir("govern")) / "demo.db"


class DemoFailed(Exception):
    """A step did not turn out as the demo expects; the message says which."""


def run_demo(database: Path, console: Console, timeout_s: float = 300.0) -> None:
    for stale in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        stale.unlink(missing_ok=True)
    database.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"database: {database} (a fresh SQLite file; delete it when done)", markup=False)
    settings = Settings(database_url=f"sqlite:///{database}", lineage_poll_s=0.5, worker_poll_s=0.2, ibm_mode="local")
    database_engine = create_db_engine(settings.resolved_database_url())
    upgrade(database_engine)
    tokens = _tokens(database_engine)
    with _service(settings) as url:
        console.print(f"service: {url} (with a dispatch worker and the lineage deliverer in the process)", markup=False)
        clients = {role: GovernClient(url, secret) for role, secret in tokens.items()}
        _fund_sandbox(clients, console)
        submissions = _check_and_submit(clients, console)
        results = _dispatch(clients, submissions, console, timeout_s)
        _lineage(clients["compliance"], console, timeout_s)
        _reproduce(clients, submissions, results, console, timeout_s)
        waits = partial(_wait, timeout_s=timeout_s)
        PilotSteps(clients, _example_body, waits, DemoFailed, console, SANDBOX).run(database.parent)
        _audit(database_engine, console)
        pack = _evidence(database_engine, settings, submissions["noisy"], database.parent, console)
    database_engine.dispose()
    console.print("demo complete: every step turned out as expected", markup=False)
    _keep_exploring(settings.resolved_database_url(), tokens, submissions["noisy"]["id"], pack, console)


DEMO_USERS = {"qa": ("submitter", "platform-qa"), "rnd": ("submitter", "materials-rnd"),
              "procurement": ("procurement", "procurement"), "compliance": ("compliance", "compliance")}
"""The demo's tokens: key → (role, team)."""


def _tokens(database_engine: Engine) -> dict[str, str]:
    with session_scope(database_engine) as session:
        return {key: create_token(session, TokenCreate(role=role, team=team, name=f"demo-{key}"))[1]
                for key, (role, team) in DEMO_USERS.items()}


@contextmanager
def _service(settings: Settings) -> Iterator[str]:
    """`govern serve --with-worker` in a thread, on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, with_worker=True), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="govern-demo-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise DemoFailed("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _fund_sandbox(clients: dict[str, GovernClient], console: Console) -> None:
    """Procurement onboards IBM and approves the sandbox materials-rnd asked for (separation of duties)."""
    start = datetime.now(UTC) - timedelta(days=1)
    clients["procurement"].request("PUT", "/v1/vendors/ibm", json={"dataProcessingAgreement": True, "regions": ["us-east"]})
    clients["rnd"].request("POST", "/v1/sandboxes", json={
        "id": SANDBOX, "team": "materials-rnd", "vendor": "ibm", "devices": ["ibm_brisbane"], "start": start.isoformat(),
        "end": (start + timedelta(weeks=12)).isoformat(), "budget": "100.00", "currency": "USD", "pilot": PILOT_TERMS,
    }, accept=(201,))
    clients["procurement"].request("POST", f"/v1/sandboxes/{SANDBOX}/approve")
    console.print(f"sandbox {SANDBOX}: requested by materials-rnd with pilot terms ({len(PILOT_TERMS['criteria'])} criteria, "
                  "a failure budget of 2 failed jobs), "
                  "approved by procurement, budget 100.00 USD", markup=False)


def _body(name: str) -> JsonObject:
    return _example_body(EXPERIMENTS[name])


def _example_body(relative: str) -> JsonObject:
    """The request body of the packaged example at `relative` (to the examples folder)."""
    (document,) = [d for d in load_documents(examples_dir() / relative, 1_000_000) if d.kind == "Experiment"]
    return request_body(document, 1_000_000, examples_dir())


def _check_and_submit(clients: dict[str, GovernClient], console: Console) -> dict[str, JsonObject]:
    """A dry-run check, then the real submission, of each example; the denied one is recorded too."""
    owners = {"ideal": "qa", "noisy": "rnd", "denied": "rnd"}
    submissions = {}
    for name, owner in owners.items():
        body = _body(name)
        _, checked = clients[owner].request("POST", "/v1/check", json=body)
        status, submitted = clients[owner].request("POST", "/v1/submissions", json=body, accept=(201, 403))
        decision = submitted["decision"]
        expected = 403 if name == "denied" else 201
        if status != expected or checked["decision"]["allow"] != (expected == 201):
            raise DemoFailed(f"{EXPERIMENTS[name]}: expected HTTP {expected}, got {status}")
        rules = ", ".join(f["rule"] for f in decision["deny"]) or "none"
        console.print(f"{EXPERIMENTS[name]}: check {checked['outcome']}, submission {submitted['submission']['id']} "
                      f"{submitted['submission']['outcome']} (decision {decision['decision_id']}, deny rules: {rules})", markup=False)
        submissions[name] = submitted["submission"]
    return submissions


def _wait(what: str, probe: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise DemoFailed(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.25)


def _finished_jobs(client: GovernClient, submission_id: str) -> list[JsonObject] | None:
    _, jobs = client.request("GET", f"/v1/submissions/{submission_id}/jobs")
    return jobs["items"] if jobs["items"] and all(job["status"] in FINAL | {"fallback"} for job in jobs["items"]) else None


def _dispatch(clients: dict[str, GovernClient], submissions: dict[str, JsonObject], console: Console, timeout_s: float) -> dict[str, JsonObject]:
    results = {}
    for name, owner in (("ideal", "qa"), ("noisy", "rnd")):
        submission_id = submissions[name]["id"]
        jobs = _wait(f"the {name} run", partial(_finished_jobs, clients[owner], submission_id), timeout_s)
        if jobs[-1]["status"] != "succeeded":
            raise DemoFailed(f"the {name} run ended {jobs[-1]['status']}: {jobs[-1]['error']}")
        _, result = clients[owner].request("GET", f"/v1/submissions/{submission_id}/result")
        top = sorted(result["counts"].items(), key=lambda item: -item[1])[:4]
        console.print(f"{name} run on {jobs[-1]['vendor']}/{jobs[-1]['device']}: {result['result_hash'][:23]}…, "
                      f"top counts {dict(top)}, calibration {result['calibration_snapshot_id'] or 'none (ideal)'}, "
                      f"cost {result['actual_cost']} {result['currency']}", markup=False)
        results[name] = result
    _, sandbox = clients["procurement"].request("GET", f"/v1/sandboxes/{SANDBOX}")
    console.print(f"sandbox {SANDBOX}: spent {sandbox['spent']}, reserved {sandbox['reserved']} of {sandbox['budget']} USD", markup=False)
    return results


LINEAGE_QUESTIONS = {
    ("s3://rnd-data", "molecules/h2"): "COMPLETE",  # the noisy run, finished
    ("postgres://clinical-warehouse", "cohorts/2026q3"): "ABORT",  # the denied attempt to read restricted data
}


def _lineage(compliance: GovernClient, console: Console, timeout_s: float) -> None:
    """Compliance asks which runs read each dataset, and under which decision."""
    for (namespace, name), state in LINEAGE_QUESTIONS.items():

        def runs(namespace: str = namespace, name: str = name, state: str = state) -> list[JsonObject] | None:
            try:
                _, body = compliance.request("GET", f"/api/v1/lineage/datasets/{quote(namespace, safe='')}/{quote(name, safe='')}/runs")
            except ClientError:  # not delivered yet: the dataset is unknown to the store
                return None
            return body["runs"] if any(run["state"] == state for run in body["runs"]) else None

        for run in _wait(f"lineage of {namespace}/{name}", runs, timeout_s):
            console.print(f"lineage: {namespace}/{name} -> run {run['runId']} of {run['job']['namespace']}/{run['job']['name']}: "
                          f"{run['state']}, decision {run['decisionId']} (allow={run['allow']})", markup=False)


def _reproduce(clients: dict[str, GovernClient], submissions: dict[str, JsonObject], results: dict[str, JsonObject], console: Console, timeout_s: float) -> None:
    for name, owner in (("ideal", "qa"), ("noisy", "rnd")):
        _, job = clients[owner].request("POST", f"/v1/submissions/{submissions[name]['id']}/reproduce", accept=(202,))

        def finished(job_id: str = job["id"], client: GovernClient = clients[owner]) -> JsonObject | None:
            _, current = client.request("GET", f"/v1/jobs/{job_id}")
            return current if current["status"] in FINAL else None

        done = _wait(f"the reproduction of the {name} run", finished, timeout_s)
        if not done["reproduced"]:
            raise DemoFailed(f"the {name} run did not reproduce: {done['error'] or 'the result hash differs'}")
        console.print(f"reproduce {name}: same circuit, seeds and noise snapshot give the same result hash "
                      f"{results[name]['result_hash'][:23]}…", markup=False)


def _audit(database_engine: Engine, console: Console) -> None:
    with session_scope(database_engine) as session:
        verification = verify(session)
    if not verification.ok:
        raise DemoFailed(f"the decision log does not verify: {verification.problem}")
    console.print(f"audit: {verification.records} decisions in the log, hash chain intact (head {verification.head_hash[:16]}…)", markup=False)


def _evidence(database_engine: Engine, settings: Settings, submission: JsonObject, folder: Path, console: Console) -> Path:
    """Compliance's questions: replay the noisy run's decision on its kept revision, then pack the run's
    evidence and verify the pack as a regulator would, with the public key alone. Returns the pack's path."""
    # lazy: only the demo's last step needs them
    from govern.audit.checkpoint import generate_key, load_private_key, load_public_key, public_key_path
    from govern.audit.evidence.pack import build_pack
    from govern.audit.evidence.verify import verify_pack
    from govern.audit.replay import embedded_engines, replay_decision

    key = folder / "demo-audit.pem"
    for stale in (key, public_key_path(key)):
        stale.unlink(missing_ok=True)
    generate_key(key)
    with session_scope(database_engine) as session:
        replayed = replay_decision(session, submission["decision_id"], embedded_engines(settings))
        pack = build_pack(session, submission["id"], settings.audit_log_origin, load_private_key(key))
    if not replayed.identical or pack is None:
        raise DemoFailed(f"decision {submission['decision_id']} did not replay identically: {[d.describe() for d in replayed.differences]}")
    console.print(f"evidence: decision {replayed.decision_id} replayed on its kept revision: identical ({replayed.replayed_outcome})", markup=False)
    path = folder / f"evidence-{submission['id']}.zip"
    path.write_bytes(pack)
    verified = verify_pack(pack, load_public_key(public_key_path(key)))
    console.print(f"evidence: pack {path} verifies with the public key alone ({verified.members} files, "
                  f"{verified.decisions} decision proven under a signed checkpoint of {verified.tree_size} records)", markup=False)
    return path


def _keep_exploring(database_url: str, tokens: dict[str, str], submission_id: str, pack: Path, console: Console) -> None:
    """How to go on with what the demo made: serve its database, with a token that reads every team's records,
    and open the web console, signed in with the demo's tokens of each kind of user."""
    compliance_token = tokens["compliance"]
    console.print("keep exploring what the demo made (the database stays until you delete it or run the demo again):", markup=False)
    for line in (
        f"export GOVERN_DATABASE_URL={shlex.quote(database_url)}",
        "govern serve --with-worker --port 8080 &",
        f"export GOVERN_SERVER=http://127.0.0.1:8080 GOVERN_TOKEN={compliance_token}  # the demo's compliance token",
        f"govern jobs {submission_id}; govern result {submission_id}; govern audit verify",
        f"govern pilot status {SANDBOX}; govern pilot report {SANDBOX} --format pdf --out pilot.pdf",
        f"govern audit verify-pack {shlex.quote(str(pack))} --public-key {shlex.quote(str(pack.parent / 'demo-audit.pem.pub'))}",
        'curl -s -H "Authorization: Bearer $GOVERN_TOKEN" "$GOVERN_SERVER/v1/submissions"',
        "# the web console: open http://127.0.0.1:8080/ui/ and sign in with one of the demo's tokens:",
        *(f"#   {DEMO_USERS[key][0]:<11} {DEMO_USERS[key][1]:<15} {secret}" for key, secret in tokens.items()),
    ):
        console.print(f"  {line}", markup=False)
