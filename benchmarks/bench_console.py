"""The console's pages over real HTTP with a long history in PostgreSQL: `--decisions` decision-log records
(default 100,000) of which `--runs` are submissions (default 10,000) with jobs, results, ledger entries,
waivers and lineage. Target: every page renders server-side in under 200 ms.

Seeding is setup, timed apart (seed_seconds); benchmarks/console_seed.py says what goes through which real
path. The default database is `govern_bench_console` on the machine's PostgreSQL (created through the `test`
database when missing), or `--database URL`; a database that already holds `--decisions` records is measured
as it is, so only the first run seeds (a few minutes) and later ones take about a minute.

Then a real `govern serve` (one process, lineage delivery off, a signing key so verification pages work)
serves it on loopback; the benchmark signs in to the console with a compliance token (and a procurement one,
for the pages only procurement opens) as a browser does and requests each page `--requests` times in turn, after one request to warm it: every GET route under /ui of the
app that takes no path parameters (read from the app's routes, so new pages are covered), the decisions
search with typical filters (team, outcome, a rule that fires, a rule that never does, which reads the most
records a page may, an experiment, a page far down by cursor), and every page with path parameters whose
parameter the seed can fill (a decision, a submission, a sandbox, a waiver, a job, a run, a vendor), and the
lineage page and the graph its script fetches around the dataset the most runs read. HTML is a page, held to
the target; JSON a page's script fetches (the lineage graph) is a fetch, reported beside it; an attachment (an
export, an evidence pack) is a download, timed `--download-requests` times, apart from the target. A route that
answers a redirect or a refusal to both compliance and procurement is listed under `skipped`.

Run: python benchmarks/bench_console.py [--decisions N] [--runs N] [--requests N] [--database URL]
The last line printed is one JSON object: decisions, runs, pages (path -> p50_ms, p99_ms), worst_page,
worst_p99_ms, target_ms, met, fetches, downloads, skipped, requests, seed_seconds, calibration_s. Progress goes
to stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
import psycopg
from bench_impact import shown
from console_seed import TEAMS, seed, seeded_counts
from fastapi.routing import iter_route_contexts
from measure import calibration_seconds, percentile
from scratch import DEFAULT_ADMIN_URL
from sqlalchemy import func
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from govern.api import create_app
from govern.audit.checkpoint import generate_key
from govern.audit.search import DecisionFilters, search_decisions
from govern.db.database import create_db_engine, session_scope, upgrade
from govern.db.public import TokenCreate
from govern.db.tables import DecisionRecord, JobRecord, LedgerEntry, LineageEdgeRecord, SubmissionRecord, WaiverRecord
from govern.policy.bundle import load_bundle
from govern.policy.engines.embedded import RegorusEngine
from govern.records.tokens import create_token
from govern.settings import Settings
from tests.live_service import running_service

DATABASE = "govern_bench_console"
TARGET_MS = 200.0
NOT_TIMED = ("/ui/login", "/ui/logout")


def default_database(admin_url: str) -> str:
    """`govern_bench_console` on the admin URL's server, created when missing (kept: the seed is reused)."""
    admin = make_url(admin_url)
    connect = dict(host=admin.host, port=admin.port, user=admin.username, password=admin.password, dbname=admin.database, autocommit=True)
    with psycopg.connect(**connect) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{DATABASE}"')
    return admin.set(database=DATABASE).render_as_string(hide_password=False)


def seed_ids(db: Engine) -> tuple[dict[str, str], str]:
    """A value from the seed for each path parameter a console page may take, and a rule that fired."""
    with Session(db) as session:
        denied = session.exec(select(SubmissionRecord).where(SubmissionRecord.outcome == "denied").order_by(col(SubmissionRecord.number).desc())).first()
        derived = session.exec(select(JobRecord).where(JobRecord.kind == "fallback").order_by(col(JobRecord.created_at).desc())).first()
        job = derived or session.exec(select(JobRecord).order_by(col(JobRecord.created_at).desc())).first()
        sandbox = session.exec(select(LedgerEntry.sandbox_id).group_by(LedgerEntry.sandbox_id).order_by(func.count().desc())).first()
        waiver = session.exec(select(WaiverRecord.id).order_by(WaiverRecord.id)).first()
        decision_id = denied.decision_id if denied else session.exec(select(DecisionRecord.decision_id).order_by(col(DecisionRecord.seq).desc())).first()
        rows = search_decisions(session, DecisionFilters(outcome="denied"), limit=1).items
        dataset = session.exec(select(LineageEdgeRecord.dataset_namespace, LineageEdgeRecord.dataset_name)
                               .where(LineageEdgeRecord.direction == "input")
                               .group_by(LineageEdgeRecord.dataset_namespace, LineageEdgeRecord.dataset_name)
                               .order_by(func.count().desc())).first()
    ids = {"decision_id": decision_id, "submission_id": job.submission_id if job else None, "job_id": job.id if job else None,
           "run_id": job.run_id if job else None, "sandbox_id": sandbox, "waiver_id": waiver, "vendor": "ibm", "name": "ibm",
           "lineage_node": f"dataset:{dataset[0]}:{dataset[1]}" if dataset else None}
    return {key: value for key, value in ids.items() if value}, (rows[0].rules[0] if rows and rows[0].rules else "PR-001")


def console_paths(ids: dict[str, str], rule: str, cursor: int) -> tuple[list[str], dict[str, str]]:
    """The pages to time and the GET routes left out (why): the app's console routes, filled from the seed."""
    pages, skipped = [], {}
    for route in iter_route_contexts(create_app(Settings()).routes):  # the included routers' routes too
        template = route.path or ""
        if "GET" not in (route.methods or ()) or not template.startswith("/ui") or template in NOT_TIMED:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", template)
        missing = [name for name in names if name not in ids]
        if missing:
            skipped[template] = f"the seed has no value for {', '.join(missing)}"
            continue
        path = template
        for name in names:
            path = re.sub(r"{" + name + r"(?::\w+)?}", quote(ids[name], safe=""), path)
        if template != "/ui/lineage/graph.json":  # it needs a node: timed below with one
            pages.append(path)
        if template == "/ui/decisions":
            for query in ({"team": TEAMS[0]}, {"outcome": "denied"}, {"rule": rule}, {"rule": "NONE-999"},
                          {"experiment": "vqe-h2-ibm"}, {"cursor": str(cursor)}, {"team": TEAMS[1], "outcome": "allowed", "kind": "submission"}):
                pages.append(f"{path}?{urlencode(query)}")
        if template in ("/ui/lineage", "/ui/lineage/graph.json") and "lineage_node" in ids:  # the most-read dataset's graph
            pages.append(f"{path}?{urlencode({'node': ids['lineage_node'], 'depth': 2})}")
    return pages, skipped


def signed_in(base: str, secret: str) -> httpx.Client:
    """A client holding a console session, signed in through the form as a browser does."""
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if csrf is None:
        raise SystemExit("the sign-in form has no csrf_token field")
    answer = client.post("/ui/login", data={"token": secret, "csrf_token": csrf.group(1), "next": "/ui/decisions"})
    if answer.status_code != 303 or answer.headers.get("location") != "/ui/decisions":
        raise SystemExit(f"signing in to the console failed: {answer.status_code}")
    return client


def timed(client: httpx.Client, path: str, requests: int) -> list[float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def figures(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(samples, 0.5), 1), "p99_ms": round(percentile(samples, 0.99), 1)}


def measure(clients: list[httpx.Client], paths: list[str], requests: int, download_requests: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, str]]:
    """Each path with the first session the policy lets open it (compliance, else procurement): a page (HTML,
    the target's), a fetch (the JSON a page's script asks for: the lineage graph) or a download (an attachment:
    an export, a pack)."""
    pages: dict[str, Any] = {}
    fetches: dict[str, Any] = {}
    downloads: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for path in paths:
        for client in clients:
            first = client.get(path, follow_redirects=False)  # warms the page; not counted
            if first.status_code != 403:
                break
        if first.status_code != 200:
            skipped[path] = f"answered {first.status_code}"
            continue
        kind = "download" if "attachment" in first.headers.get("content-disposition", "") else (
            "page" if first.headers.get("content-type", "").startswith("text/html") else "fetch")
        result = figures(timed(client, path, download_requests if kind == "download" else requests))
        {"page": pages, "fetch": fetches, "download": downloads}[kind][path] = result
        print(f"{path}: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms{'' if kind == 'page' else f' ({kind})'}", file=sys.stderr)
    return pages, fetches, downloads, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10_000, help="submissions among the decisions, each with its run")
    parser.add_argument("--distinct", type=int, default=300, help="distinct submissions decided for the seed")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--download-requests", type=int, default=3, help="timed requests per download (an export)")
    parser.add_argument("--database", help=f"database URL (default: {DATABASE} on the machine's PostgreSQL); reused when already seeded")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL database through which the default one is created")
    parser.add_argument("--server-log", type=Path, help="append govern serve's output to this file (default: discard it)")
    args = parser.parse_args()
    if not 0 <= args.runs <= args.decisions or args.requests < 1 or args.download_requests < 1:
        parser.error("--runs must be between 0 and --decisions, and --requests and --download-requests at least 1")
    url = args.database or default_database(args.admin_url)
    db = create_db_engine(url)
    started = time.perf_counter()
    upgrade(db)
    if seeded_counts(db)[0] < args.decisions:  # a database seeded by an earlier run is measured as it is
        bundle = load_bundle()
        engine = RegorusEngine(bundle, workers=1)
        try:
            with shown("seeding decisions and runs") as progress:
                seed(db, bundle, engine, args.decisions, args.runs, args.distinct, progress)
        finally:
            engine.close()
        if db.dialect.name == "postgresql":
            with db.begin() as connection:  # the statistics autovacuum would gather soon after, so the plans are the lasting ones
                connection.exec_driver_sql("ANALYZE")
    seed_seconds = time.perf_counter() - started
    decisions, runs = seeded_counts(db)
    ids, rule = seed_ids(db)
    with session_scope(db) as session:
        secrets = [create_token(session, TokenCreate(role=role, team=team, name="bench-console"))[1]
                   for role, team in (("compliance", "audit"), ("procurement", "procurement"))]
    db.dispose()
    paths, skipped = console_paths(ids, rule, cursor=decisions // 2)
    print(f"seeded in {seed_seconds:.0f} s: {decisions} decisions, {runs} runs; timing {len(paths)} pages", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="govern-bench-console-") as folder, open(args.server_log or "/dev/null", "ab") as log:
        key = Path(folder) / "signing.pem"
        generate_key(key)
        env = {"GOVERN_LINEAGE_DELIVERY": "false", "GOVERN_AUDIT_SIGNING_KEY": str(key)}
        with running_service(url, env=env, log=log) as base:
            clients = [signed_in(base, secret) for secret in secrets]
            try:
                pages, fetches, downloads, refused = measure(clients, paths, args.requests, args.download_requests)
            finally:
                for client in clients:
                    client.close()
    skipped.update(refused)
    worst = max(pages, key=lambda path: pages[path]["p99_ms"]) if pages else None
    worst_ms = pages[worst]["p99_ms"] if worst else None
    for path, why in skipped.items():
        print(f"skipped {path}: {why}", file=sys.stderr)
    print(json.dumps({
        "decisions": decisions, "runs": runs, "pages": pages, "worst_page": worst, "worst_p99_ms": worst_ms, "target_ms": TARGET_MS,
        "met": worst_ms is not None and worst_ms < TARGET_MS, "fetches": fetches, "downloads": downloads, "skipped": skipped, "requests": args.requests,
        "seed_seconds": round(seed_seconds, 2), "calibration_s": calibration_seconds(),
    }))


if __name__ == "__main__":
    main()
