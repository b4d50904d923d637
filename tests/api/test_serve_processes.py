"""`govern serve --workers 2 --with-worker` on PostgreSQL, over real HTTP: what must hold across server
processes. Each response is traced to the process that answered it (the server end of its connection), so
"every process" means each of them was seen answering, not that enough connections were made."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psutil
import pytest
from sqlmodel import col, select

from govern.audit.log import verify
from govern.db.database import create_db_engine, session_scope
from govern.db.public import TokenCreate
from govern.db.tables import DecisionRecord, JobRecord, LineageOutboxEntry, ResultRecord
from govern.records.tokens import create_token, revoke_token
from tests.api.test_api import example
from tests.conftest import ROOT
from tests.live_service import free_port, serving, wait_for

pytestmark = pytest.mark.slow

PROCESSES = 2
TOKEN_CACHE_S = 1.0


class LineageReceiver(ThreadingHTTPServer):
    """An OpenLineage HTTP endpoint that keeps every event it is sent."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.events.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)


class Service:
    """The launched `govern serve`, its database and tokens, and a way to reach each of its processes."""

    def __init__(self, url: str, launcher: psutil.Process, database, secrets: dict[str, str], bundle, receiver: LineageReceiver):
        self.url, self.launcher, self.database, self.secrets = url, launcher, database, secrets
        self.bundle, self.receiver = bundle, receiver
        self.port = int(url.rsplit(":", 1)[1])

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def processes(self) -> set[int]:
        """The server processes: the launcher's children listening on the port."""
        return {child.pid for child in self.launcher.children(recursive=True)
                if any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port for c in child.net_connections(kind="tcp"))}

    def answered_by(self, response: httpx.Response) -> int:
        """The pid of the server process holding the other end of the (still open) connection."""
        client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        for process in self.launcher.children(recursive=True):
            for connection in process.net_connections(kind="tcp"):
                if connection.raddr and connection.raddr.port == client_port and connection.laddr.port == self.port:
                    return process.pid
        raise AssertionError(f"no server process holds the connection from port {client_port}")

    def ask(self, send: Callable[[httpx.Client], httpx.Response]) -> tuple[int, httpx.Response]:
        """`send` on a new connection; the process that answered and its response."""
        with httpx.Client(base_url=self.url, timeout=60) as client:
            response = send(client)
            return self.answered_by(response), response

    def ask_each_process(self, send: Callable[[httpx.Client], httpx.Response], attempts: int = 200) -> dict[int, httpx.Response]:
        """`send` on new connections until every server process has answered one."""
        answers: dict[int, httpx.Response] = {}
        for _ in range(attempts):
            pid, response = self.ask(send)
            answers.setdefault(pid, response)
            if len(answers) == PROCESSES:
                return answers
        raise AssertionError(f"only processes {sorted(answers)} answered {attempts} connections")


@pytest.fixture(scope="module")
def service(postgres_admin, tmp_path_factory):
    from benchmarks.scratch import scratch_database

    bundle = tmp_path_factory.mktemp("processes") / "bundle"
    shutil.copytree(ROOT / "policies", bundle)
    receiver = LineageReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = {"GOVERN_TOKEN_CACHE_S": str(TOKEN_CACHE_S), "GOVERN_BUNDLE": str(bundle), "GOVERN_WORKER_POLL_S": "0.2",
           "GOVERN_LINEAGE_POLL_S": "0.5", "OPENLINEAGE_URL": f"http://127.0.0.1:{receiver.server_address[1]}"}
    try:
        with scratch_database(postgres_admin.render_as_string(hide_password=False), "govern_test") as database_url:
            with serving(database_url, env=env, args=("--workers", str(PROCESSES), "--with-worker")) as (url, launcher):
                database = create_db_engine(database_url)
                with session_scope(database) as session:
                    secrets = {role: create_token(session, TokenCreate(role=role, team=team, name=role))[1]
                               for role, team in (("admin", "ops"), ("submitter", "platform-qa"))}
                live = Service(url, psutil.Process(launcher.pid), database, secrets, bundle, receiver)
                live.ask_each_process(lambda client: client.get("/readyz"))  # both processes are up
                yield live
                database.dispose()
    finally:
        receiver.shutdown()


def check(service: Service, name: str = "bell-local") -> Callable[[httpx.Client], httpx.Response]:
    manifest, circuit = example(name)
    return lambda client: client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=service.auth("submitter"))


def submit(service: Service, name: str = "bell-local") -> Callable[[httpx.Client], httpx.Response]:
    manifest, circuit = example(name)
    return lambda client: client.post("/v1/submissions", json={"manifest": manifest, "circuit": circuit}, headers=service.auth("submitter"))


def decision_id(response: httpx.Response) -> str:
    """The decision a check (200) or a submission (201 allowed, 403 denied) answered with."""
    assert response.status_code in (200, 201, 403), response.text
    return response.json()["decision"]["decision_id"]


def test_the_decision_log_stays_one_chain_across_processes(service):
    requests = [check(service), check(service, "unknown-backend")] * 12 + [submit(service, "unknown-backend")] * 8
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(service.ask, requests))
    assert {pid for pid, _ in answers} == service.processes() and len(service.processes()) == PROCESSES
    decided = {decision_id(response) for _, response in answers}
    with session_scope(service.database) as session:
        verification = verify(session)  # seqs gapless, each record chained onto the one before
        logged = session.exec(select(DecisionRecord.decision_id)).all()
    assert verification.problem is None, verification.problem
    assert len(decided) == len(requests) and decided <= set(logged) and len(logged) == len(set(logged))


def test_a_revoked_token_is_refused_by_every_process_once_its_cache_entry_expires(service):
    with session_scope(service.database) as session:
        token, secret = create_token(session, TokenCreate(role="submitter", team="platform-qa", name="short-lived"))
    policy = lambda client: client.get("/v1/policy", headers={"Authorization": f"Bearer {secret}"})  # noqa: E731
    assert {r.status_code for r in service.ask_each_process(policy).values()} == {200}  # now remembered by each
    with session_scope(service.database) as session:
        revoke_token(session, token.id)
    time.sleep(TOKEN_CACHE_S + 0.2)
    assert {r.status_code for r in service.ask_each_process(policy).values()} == {401}


def test_a_policy_reload_reaches_every_process_within_a_second_or_so(service):
    admin = service.auth("admin")
    before = service.ask(lambda client: client.get("/v1/policy", headers=admin))[1].json()
    manifest = service.bundle / ".manifest"
    revision = f"2026.12.{int(time.time())}"
    manifest.write_text(manifest.read_text().replace(before["revision"], revision))
    reloaded = service.ask(lambda client: client.post("/v1/policy/reload", headers=admin))[1]
    asked = time.monotonic()
    assert reloaded.status_code == 200 and reloaded.json()["revision"] == revision and reloaded.json()["generation"] >= 1

    def everywhere() -> bool:
        answers = service.ask_each_process(lambda client: client.get("/v1/policy", headers=admin))
        return all(response.json()["revision"] == revision for response in answers.values())

    wait_for(everywhere, timeout_s=10, what="every process to load the reloaded bundle")
    assert time.monotonic() - asked < 5  # a poll each second, the bundle's load, and this test's own requests
    decided = service.ask_each_process(check(service))
    assert {r.json()["decision"]["bundle_revision"] for r in decided.values()} == {reloaded.json()["bundle_revision"]}


def test_each_job_runs_once_with_a_worker_in_each_process(service):
    with ThreadPoolExecutor(4) as pool:
        submitted = [response for _, response in pool.map(service.ask, [submit(service)] * 6)]
    assert all(response.status_code == 201 for response in submitted), [r.text for r in submitted]
    ids = {response.json()["submission"]["id"] for response in submitted}

    def finished() -> list | None:
        with session_scope(service.database) as session:
            jobs = session.exec(select(JobRecord.id, JobRecord.status, JobRecord.attempts).where(col(JobRecord.submission_id).in_(ids))).all()
        return jobs if len(jobs) == len(ids) and all(job.status == "succeeded" for job in jobs) else None

    jobs = wait_for(finished, timeout_s=60, what="the jobs to succeed")
    assert [job.attempts for job in jobs] == [1] * len(ids)  # each claimed once: no second worker ran it
    with session_scope(service.database) as session:
        results = session.exec(select(ResultRecord.job_id).where(col(ResultRecord.job_id).in_([job.id for job in jobs]))).all()
    assert sorted(results) == sorted(job.id for job in jobs)


def test_the_lineage_deliverers_of_both_processes_send_each_event_once(service):
    with ThreadPoolExecutor(4) as pool:
        assert {r.status_code for _, r in pool.map(service.ask, [submit(service, "unknown-backend")] * 8)} == {403}

    def drained() -> list | None:
        with session_scope(service.database) as session:
            entries = session.exec(select(LineageOutboxEntry.event, LineageOutboxEntry.delivered_at)).all()
        return entries if entries and all(entry.delivered_at is not None for entry in entries) else None

    entries = wait_for(drained, timeout_s=30, what="the outbox to drain")
    time.sleep(1)  # a second pass beside the first would have sent its copies by now

    def key(event: dict) -> tuple[str, str, str]:
        return event["run"]["runId"], event.get("eventType", ""), event["eventTime"]

    sent = [key(json.loads(entry.event)) for entry in entries]
    with service.receiver.lock:
        received = Counter(key(event) for event in service.receiver.events)
    assert len(set(sent)) == len(sent)
    assert [received[event] for event in sent] == [1] * len(sent) and max(received.values()) == 1
