"""Load test of the governance service: `POST /v1/check` and `POST /v1/submissions` on PostgreSQL, driven
from this process against a `govern serve` process on loopback, 32 concurrent clients.

Run: python benchmarks/bench_service.py [--seconds N] [--clients N] [--database-url URL]
Needs PostgreSQL (default: the machine's, 127.0.0.1:5432, trust auth; a scratch database is created and dropped).
The last line printed is one JSON object: check_rps, check_p50_ms, check_p99_ms, submit_rps, submit_p50_ms,
submit_p99_ms, errors, inprocess_decisions_per_s and each rate as a ratio to the in-process decision rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from measure import percentile
from scratch import DEFAULT_ADMIN_URL, scratch_database

from govern.check.checker import Checker
from govern.manifest.documents import load_documents
from govern.manifest.schema import API_VERSION, Context, ContextSpec, Sandbox, Vendor
from govern.policy.bundle import load_bundle
from govern.policy.engines.embedded import RegorusEngine
from govern.submission import submission_from_document

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "examples" / "allowed" / "vqe-h2-ibm.yaml"


def inprocess_rate(seconds: float) -> float:
    """Decisions per second for the same submission, evaluated in this process with no HTTP and no database."""
    engine = RegorusEngine(load_bundle())
    now = datetime.now(UTC)
    context = Context(api_version=API_VERSION, kind="Context", spec=ContextSpec(
        vendors=[Vendor(name="ibm", data_processing_agreement=True)],
        sandboxes=[Sandbox(id="SBX-2026-014", team="materials-rnd", vendor="ibm", devices=["ibm_brisbane"], status="approved",
                           start=now - timedelta(days=1), end=now + timedelta(weeks=8), budget=1e9)]))
    checker = Checker(engine, context)
    submission = submission_from_document(load_documents(MANIFEST, 1_000_000)[0], 1_000_000)
    count, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        engine.evaluate(checker.policy_input(submission, checker.profile(submission)))
        count += 1
    engine.close()
    return count / (time.perf_counter() - started)


async def drive(url: str, token: str, body: dict, clients: int, seconds: float, idempotent: bool) -> tuple[int, list[float], int]:
    """`clients` concurrent keep-alive connections posting `body` for `seconds`; returns (completed, latencies
    in ms, errors).

    A bare HTTP/1.1 client on asyncio streams rather than httpx: httpx spends about 3.5 ms of CPU per request,
    which on a 2-core machine takes a core away from the server it is meant to measure.
    """
    parsed = urlsplit(url)
    payload = json.dumps(body).encode()
    head = (f"POST {parsed.path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n").encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        connection = None
        while time.perf_counter() < deadline:
            key = f"Idempotency-Key: {uuid.uuid4().hex}\r\n".encode() if idempotent else b""
            started = time.perf_counter()
            try:
                connection = connection or await asyncio.open_connection(parsed.hostname, parsed.port)
                status, keep_alive = await exchange(*connection, head + key + b"\r\n" + payload)
                ok = status in (200, 201)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok, keep_alive = False, False
            latencies.append((time.perf_counter() - started) * 1000)
            errors += not ok
            if not keep_alive and connection:
                connection[1].close()
                connection = None
        if connection:
            connection[1].close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return len(latencies), latencies, errors


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bool]:
    """Send one request and read its whole response; returns (status, whether the connection stays open)."""
    writer.write(request)
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    await reader.readexactly(int(headers["content-length"]))
    return status, headers.get("connection") != "close"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per endpoint (default 20)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="govern serve processes (default 2)")
    parser.add_argument("--database-url", default=os.environ.get("GOVERN_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    options = parser.parse_args()

    with scratch_database(options.database_url) as database_url:
        env = {**os.environ, "GOVERN_DATABASE_URL": database_url}
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "govern", "serve", "--port", str(port), "--migrate", "--workers", str(options.workers)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)

            def token(role: str, team: str) -> str:
                out = subprocess.run([sys.executable, "-m", "govern", "token", "create", "--role", role, "--team", team],
                                     env=env, capture_output=True, text=True, check=True)
                return out.stdout.strip()

            procurement, submitter = token("procurement", "procurement"), token("submitter", "materials-rnd")
            httpx.put(f"{base}/v1/vendors/ibm", json={"dataProcessingAgreement": True}, headers={"Authorization": f"Bearer {procurement}"})
            start = datetime.now(UTC) - timedelta(days=1)
            httpx.post(f"{base}/v1/sandboxes", headers={"Authorization": f"Bearer {submitter}"}, json={
                "id": "SBX-2026-014", "team": "materials-rnd", "vendor": "ibm", "devices": ["ibm_brisbane"],
                "start": start.isoformat(), "end": (start + timedelta(weeks=8)).isoformat(), "budget": "999999999.00"})
            httpx.post(f"{base}/v1/sandboxes/SBX-2026-014/approve", headers={"Authorization": f"Bearer {procurement}"})

            (document,) = load_documents(MANIFEST, 1_000_000)
            body = {"manifest": document.data, "circuit": (MANIFEST.parent / document.data["spec"]["circuit"]["path"]).read_text()}
            warm = httpx.post(f"{base}/v1/check", json=body, headers={"Authorization": f"Bearer {submitter}"}, timeout=30)
            assert warm.status_code == 200 and warm.json()["outcome"] in {"allowed", "warned"}, warm.text

            inprocess = inprocess_rate(min(5.0, options.seconds))
            checks, check_ms, check_errors = asyncio.run(drive(f"{base}/v1/check", submitter, body, options.clients, options.seconds, False))
            submits, submit_ms, submit_errors = asyncio.run(drive(f"{base}/v1/submissions", submitter, body, options.clients, options.seconds, True))
        finally:
            server.terminate()
            server.wait(timeout=30)

    check_rps, submit_rps = checks / options.seconds, submits / options.seconds
    print(json.dumps({
        "clients": options.clients,
        "server_workers": options.workers,
        "seconds_per_endpoint": options.seconds,
        "check_rps": round(check_rps, 1),
        "check_p50_ms": round(statistics.median(check_ms), 2),
        "check_p99_ms": round(percentile(check_ms, 0.99), 2),
        "submit_rps": round(submit_rps, 1),
        "submit_p50_ms": round(statistics.median(submit_ms), 2),
        "submit_p99_ms": round(percentile(submit_ms, 0.99), 2),
        "errors": check_errors + submit_errors,
        "inprocess_decisions_per_s": round(inprocess, 1),
        "check_vs_inprocess": round(check_rps / inprocess, 3),
        "submit_vs_inprocess": round(submit_rps / inprocess, 3),
    }))


if __name__ == "__main__":
    main()
