"""Load test of the governance service: `POST /v1/check` and `POST /v1/submissions` against a live `govern serve`
on loopback, driven by wrk from a separate process, on PostgreSQL (the production setup) and on the embedded
SQLite default.

Run: python benchmarks/bench_service.py [--seconds N] [--clients N] [--workers N] [--profile-seconds N]
Needs PostgreSQL (default: the machine's, 127.0.0.1:5432, trust auth; a scratch database is created and
dropped) and wrk (Debian: `apt-get install wrk`; run as root, the benchmark installs it itself), and py-spy
(in the test requirements) for the CPU profile.

For each endpoint: throughput and p50/p99 at saturation (wrk, `--clients` keep-alive connections, closed
loop), p99 at a fixed rate of half the saturated throughput (open loop, measured from each request's
scheduled time), and the service's CPU per request by component (py-spy samples on every server process,
psutil's CPU times), plus PostgreSQL's. Submissions run twice: over 8 sandboxes and all on one. The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from load import cpu_profile
from load.drivers import WRK_INSTALL, Load, find_wrk, open_loop, wrk
from measure import calibration_seconds
from scratch import DEFAULT_ADMIN_URL, scratch_database

from govern.check.checker import Checker
from govern.manifest.documents import load_documents
from govern.manifest.schema import API_VERSION, Context, ContextSpec, Sandbox, Vendor
from govern.policy.bundle import load_bundle
from govern.policy.engines.embedded import RegorusEngine
from govern.submission import submission_from_document

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "examples" / "allowed" / "vqe-h2-ibm.yaml"
SANDBOXES = [f"SBX-2026-{number}" for number in range(101, 109)]


def inprocess_rate(seconds: float) -> float:
    """Decisions per second for the same submission, evaluated in this process with no HTTP and no database."""
    engine = RegorusEngine(load_bundle())
    now = datetime.now(UTC)
    context = Context(api_version=API_VERSION, kind="Context", spec=ContextSpec(
        vendors=[Vendor(name="ibm", data_processing_agreement=True)],
        sandboxes=[Sandbox(id=SANDBOXES[0], team="materials-rnd", vendor="ibm", devices=["ibm_brisbane"], status="approved",
                           start=now - timedelta(days=1), end=now + timedelta(weeks=8), budget=1e9)]))
    checker = Checker(engine, context)
    submission = submission_from_document(load_documents(MANIFEST, 1_000_000)[0], 1_000_000)
    profile = checker.profile(submission)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        engine.evaluate(checker.policy_input(submission, profile))
        count += 1
    engine.close()
    return count / (time.perf_counter() - started)


@contextmanager
def service(database_url: str, args: list[str], log: Path | None = None) -> Iterator[tuple[str, int, dict[str, str]]]:
    """`govern serve --migrate` on a free port, its output appended to `log`; yields its URL, pid and
    environment; stops it at the end."""
    env = {**os.environ, "GOVERN_DATABASE_URL": database_url}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(log or os.devnull, "ab") as output:
        server = subprocess.Popen([sys.executable, "-m", "govern", "serve", "--port", str(port), "--migrate", *args], env=env,
                                  stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, server.pid, env
    finally:
        server.terminate()
        server.wait(timeout=30)


def prepare(base: str, env: dict[str, str], folder: Path) -> tuple[str, list[Path]]:
    """An IBM vendor and 8 approved, well-funded sandboxes; returns a submitter's token and one request body
    per sandbox (the first serves for checks and for submissions all on one sandbox)."""
    def token(role: str, team: str) -> str:
        out = subprocess.run([sys.executable, "-m", "govern", "token", "create", "--role", role, "--team", team],
                             env=env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    procurement, submitter = token("procurement", "procurement"), token("submitter", "materials-rnd")
    as_procurement, as_submitter = {"Authorization": f"Bearer {procurement}"}, {"Authorization": f"Bearer {submitter}"}
    httpx.put(f"{base}/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers=as_procurement).raise_for_status()
    start = datetime.now(UTC) - timedelta(days=1)
    for sandbox in SANDBOXES:
        httpx.post(f"{base}/v1/sandboxes", headers=as_submitter, json={
            "id": sandbox, "team": "materials-rnd", "vendor": "ibm", "devices": ["ibm_brisbane"],
            "start": start.isoformat(), "end": (start + timedelta(weeks=8)).isoformat(), "budget": "999999999.00"}).raise_for_status()
        httpx.post(f"{base}/v1/sandboxes/{sandbox}/approve", headers=as_procurement).raise_for_status()
    (document,) = load_documents(MANIFEST, 1_000_000)
    circuit = (MANIFEST.parent / document.data["spec"]["circuit"]["path"]).read_text()
    bodies = []
    for sandbox in SANDBOXES:
        manifest = json.loads(json.dumps(document.data))
        manifest["spec"]["sandbox"] = sandbox
        bodies.append(folder / f"{sandbox}.json")
        bodies[-1].write_text(json.dumps({"manifest": manifest, "circuit": circuit}))
    warm = httpx.post(f"{base}/v1/check", content=bodies[0].read_bytes(), headers={**as_submitter, "Content-Type": "application/json"}, timeout=30)
    assert warm.status_code == 200 and warm.json()["outcome"] in {"allowed", "warned"}, warm.text
    return submitter, bodies


def measured(pid: int, run: Callable[[], Load]) -> tuple[Load, float, float]:
    """Run the load; returns it with the service's and PostgreSQL's CPU milliseconds per request."""
    processes, database = cpu_profile.service_processes(pid), cpu_profile.postgres_processes()
    service_before, database_before = cpu_profile.cpu_seconds(processes), cpu_profile.cpu_seconds(database)
    load = run()
    per_request = 1000 / max(1, load.requests)
    return (load, (cpu_profile.cpu_seconds(processes) - service_before) * per_request,
            (cpu_profile.cpu_seconds(database) - database_before) * per_request)


def by_component(pid: int, service_ms: float, database_ms: float, run: Callable[[], Load]) -> dict[str, float]:
    """The service's CPU per request split by the shares py-spy finds during a second run of the same load."""
    with cpu_profile.sampled(pid) as shares:
        run()
    split = {component: round(service_ms * share, 3) for component, share in shares.items()}
    return {"service_total": round(service_ms, 3), **split, "postgresql": round(database_ms, 3)}


def endpoint(binary: str, base: str, pid: int, path: str, token: str, bodies: list[Path], options: argparse.Namespace,
             idempotent: bool, half_load: bool) -> dict[str, Any]:
    url = f"{base}{path}"

    def saturate(seconds: float) -> Callable[[], Load]:
        return lambda: wrk(binary, url, token, bodies, clients=options.clients, seconds=seconds, idempotent=idempotent)

    load, service_ms, database_ms = measured(pid, saturate(options.seconds))
    figures: dict[str, Any] = {"rps": round(load.rate, 1), "p50_ms": round(load.p50_ms, 2), "p99_ms": round(load.p99_ms, 2),
                               "errors": load.errors}
    if half_load:
        fixed = open_loop(url, token, [body.read_bytes() for body in bodies], rate=load.rate / 2, seconds=options.seconds,
                          idempotent=idempotent)
        figures.update(p99_ms_at_half_load=round(fixed.p99_ms, 2), half_load_rps=round(fixed.rate, 1))
        figures["errors"] += fixed.errors
    if options.profile_seconds > 0:
        figures["cpu_ms"] = by_component(pid, service_ms, database_ms, saturate(options.profile_seconds))
    return figures


def postgres_run(binary: str, options: argparse.Namespace) -> dict[str, Any]:
    workers = ["--workers", str(options.workers)] if options.workers else []
    with scratch_database(options.database_url) as database_url, tempfile.TemporaryDirectory() as folder, \
            service(database_url, workers, options.server_log) as (base, pid, env):
        token, bodies = prepare(base, env, Path(folder))
        check = endpoint(binary, base, pid, "/v1/check", token, bodies[:1], options, idempotent=False, half_load=True)
        submit = endpoint(binary, base, pid, "/v1/submissions", token, bodies, options, idempotent=True, half_load=False)
        single = endpoint(binary, base, pid, "/v1/submissions", token, bodies[:1], replace(options, profile_seconds=0), idempotent=True, half_load=False)
        verified = subprocess.run([sys.executable, "-m", "govern", "audit", "verify"], env=env, capture_output=True).returncode == 0
    return {"check": check, "submit": submit, "submit_one_sandbox": single, "log_verified": verified}


def sqlite_run(binary: str, options: argparse.Namespace) -> dict[str, Any]:
    """The embedded default: one process on a SQLite file, the same load, half the time."""
    short = replace(options, seconds=max(2.0, options.seconds / 2), profile_seconds=0)
    with tempfile.TemporaryDirectory() as folder, service(f"sqlite:///{folder}/govern.db", ["--workers", "1"], options.server_log) as (base, pid, env):
        token, bodies = prepare(base, env, Path(folder))
        check = endpoint(binary, base, pid, "/v1/check", token, bodies[:1], short, idempotent=False, half_load=False)
        submit = endpoint(binary, base, pid, "/v1/submissions", token, bodies, short, idempotent=True, half_load=False)
        verified = subprocess.run([sys.executable, "-m", "govern", "audit", "verify"], env=env, capture_output=True).returncode == 0
    return {"check": check, "submit": submit, "log_verified": verified}


def replace(options: argparse.Namespace, **changes: Any) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(options), **changes})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per measurement (default 8)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections at saturation (default 32)")
    parser.add_argument("--workers", type=int, default=0, help="govern serve processes on PostgreSQL (default: govern serve's own)")
    parser.add_argument("--profile-seconds", type=float, default=4.0, help="seconds of profiled load per endpoint (0: no profile)")
    parser.add_argument("--server-log", type=Path, help="append the servers' output to this file (default: discard it)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the embedded SQLite run")
    parser.add_argument("--database-url", default=os.environ.get("GOVERN_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    options = parser.parse_args()
    binary = find_wrk(install=os.geteuid() == 0)
    if binary is None:
        sys.exit(f"wrk is not installed: {WRK_INSTALL}")

    calibration = calibration_seconds()
    inprocess = inprocess_rate(3.0)
    postgres = postgres_run(binary, options)
    sqlite = None if options.no_sqlite else sqlite_run(binary, options)
    check, submit, single = postgres["check"], postgres["submit"], postgres["submit_one_sandbox"]
    print(json.dumps({
        "clients": options.clients,
        "server_workers": options.workers or "default",
        "seconds_per_measurement": options.seconds,
        "load_generator": "wrk (saturation), open loop (half load)",
        "calibration_s": calibration,
        "check_rps": check["rps"],
        "check_p50_ms": check["p50_ms"],
        "check_p99_ms": check["p99_ms"],
        "check_p99_ms_at_half_load": check["p99_ms_at_half_load"],
        "submit_rps": submit["rps"],
        "submit_p50_ms": submit["p50_ms"],
        "submit_p99_ms": submit["p99_ms"],
        "submit_one_sandbox_rps": single["rps"],
        "submit_one_sandbox_p99_ms": single["p99_ms"],
        "errors": check["errors"] + submit["errors"] + single["errors"],
        "log_verified": postgres["log_verified"],
        "inprocess_decisions_per_s": round(inprocess, 1),
        "cpu_ms_per_check": check.get("cpu_ms"),
        "cpu_ms_per_submission": submit.get("cpu_ms"),
        "sqlite": sqlite and {"check_rps": sqlite["check"]["rps"], "check_p99_ms": sqlite["check"]["p99_ms"],
                              "submit_rps": sqlite["submit"]["rps"], "submit_p99_ms": sqlite["submit"]["p99_ms"],
                              "errors": sqlite["check"]["errors"] + sqlite["submit"]["errors"], "log_verified": sqlite["log_verified"]},
    }))


if __name__ == "__main__":
    main()
