"""Dispatch through the PostgreSQL work queue: overhead from a recorded decision to the backend call, and
jobs per second with 1, 2 and 4 worker processes, on a trivial circuit (the bell-local example, few shots,
ideal Aer).

Submissions go through the real path (`govern.admission.transaction.submit`, committed: the decision, its log record
and the queued job in one transaction); making them is setup and is not timed. Workers are
`govern.dispatch.worker.Worker`s in their own processes (started, imported and warmed up with one Aer run
before the clock starts), with the backend factory wrapped so that each `submit()` notes when it is called.

- Overhead, idle worker: one submission at a time, each at a random moment while the worker idles; from
  the moment its transaction has committed to the moment the worker calls the backend's `submit()`. The
  worker is woken by the NOTIFY its transaction sends (LISTEN/NOTIFY), so the poll interval (`--poll-s`,
  the default GOVERN_WORKER_POLL_S) is only the safety net; it is reported with the figures.
- Overhead, busy worker: with the queue full (the 1-worker throughput run), from the start of the claim to
  the backend's `submit()`: claim, the allowed and sandbox checks, `submitted` persisted; no polling.
- Throughput: `--jobs` queued jobs, then N workers started together, timed until the last job is final;
  `--rounds` runs per worker count, interleaved (1 2 4 4 2 1), jobs/s over all of a count's runs. Every job
  must end `succeeded` after one claim and one backend submission; anything else counts in errors.

Run: python benchmarks/bench_dispatch.py [--jobs N] [--rounds N] [--samples N] [--poll-s S] [--shots N] [--database-url URL]
Needs PostgreSQL (default: the machine's, 127.0.0.1:5432, trust auth; a scratch database is created and dropped).
The last line printed is one JSON object: overhead_median_ms, overhead_p99_ms, busy_overhead_median_ms,
busy_overhead_p99_ms; keyed by worker count: jobs_per_s, speedup over 1 worker, job_median_ms (claim to
final), worker_cpu_ms_per_job (the workers' own CPU) and machine_cpu_busy (the share of all cores busy
during those runs, whoever kept them busy: workers, PostgreSQL, or other work); cpus, jobs (per run),
rounds, samples, shots, poll_s, errors, and the machine's load average at the end (other work on the
machine makes every figure slower and noisier).
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from measure import percentile
from scratch import DEFAULT_ADMIN_URL, scratch_database
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from govern.admission.transaction import submit
from govern.backends.base import DispatchRequest
from govern.backends.registry import get_backend
from govern.check.checker import Checker
from govern.db.database import create_db_engine, upgrade
from govern.db.tables import JobRecord, ResultRecord
from govern.dispatch.worker import Worker, WorkerOptions
from govern.manifest.documents import load_documents
from govern.policy.bundle import load_bundle
from govern.policy.engines.factory import build_engine
from govern.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "examples" / "allowed" / "bell-local.yaml"
WORKER_COUNTS = (1, 2, 4)
IDLE_JITTER_S = 0.05
"""Submissions arrive at a random moment up to this long after the worker fell idle."""


class StampedBackend:
    """The real backend, with the moment the worker calls `submit()` noted for the job being processed."""

    def __init__(self, backend: Any, note: Callable[[], None]):
        self._backend, self._note = backend, note

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def submit(self, request: DispatchRequest) -> str:
        self._note()
        return self._backend.submit(request)


class StampingWorker(Worker):
    """A worker that reports, per job it processed: (claim started, backend submit called, job final), as
    wall-clock times so the submitting process can compare them with its commits."""

    def __init__(self, database: Engine, options: WorkerOptions, stamps: Any):
        super().__init__(database, options, backend_for=self._stamped_backend)
        self.stamps, self.pass_started, self.submit_called = stamps, 0.0, []

    def _stamped_backend(self, vendor: str, device: str, **options: Any) -> StampedBackend:
        return StampedBackend(get_backend(vendor, device, **options), lambda: self.submit_called.append(time.time()))

    def run_once(self) -> bool:
        self.pass_started, self.submit_called = time.time(), []
        worked = super().run_once()
        if worked:
            self.stamps.put(("job", self.pass_started, self.submit_called, time.time()))
        return worked


def serve(database_url: str, options: WorkerOptions, commands: Any, stamps: Any, stop: Any) -> None:
    """One worker process: warm up (imports, Aer, a database connection), say ready, then for each command
    serve the queue until it is empty (`drain`) or until `stop` is set (`serve`), until told to `exit`."""
    database = create_db_engine(database_url)
    worker = StampingWorker(database, options, stamps)
    warm_up(database)
    stamps.put(("ready",))
    for command in iter(commands.get, "exit"):
        cpu_started = time.process_time()
        if command == "drain":
            worker.run_until_idle()
        else:
            worker.run(stop)
        stamps.put(("done", time.process_time() - cpu_started))
    database.dispose()


def warm_up(database: Engine) -> None:
    backend = get_backend("local", "aer_simulator")
    request = DispatchRequest(qasm=(ROOT / "examples" / "circuits" / "bell.qasm").read_text(), shots=16,
                              seed_transpiler=1, seed_simulator=1, timeout_s=60)
    backend.wait(backend.submit(request), 60)
    with Session(database) as session:
        session.exec(select(func.count()).select_from(JobRecord)).one()


class Submitter:
    """Allowed submissions of the bell-local example, decided and committed as `POST /v1/submissions` does."""

    def __init__(self, database: Engine, shots: int):
        settings = Settings()
        bundle = load_bundle(settings.bundle)
        self.database, self.bundle_data, self.max_circuit_bytes = database, bundle.data, settings.max_circuit_bytes
        self.engine = build_engine(settings, bundle)
        self.checker = Checker(self.engine, circuit_limits=settings.circuit_limits)
        (document,) = load_documents(MANIFEST, 1_000_000)
        self.manifest = copy.deepcopy(document.data)
        self.manifest["spec"]["shots"] = shots
        self.circuit = (MANIFEST.parent / document.data["spec"]["circuit"]["path"]).read_text()

    def submit(self) -> float:
        """One submission; returns the wall-clock time just after its commit (the decision is recorded)."""
        with Session(self.database) as session:
            submitted = submit(session, self.checker, self.engine, self.manifest, self.circuit, actor="bench-dispatch",
                               idempotency_key=None, max_circuit_bytes=self.max_circuit_bytes, bundle_data=self.bundle_data)
            session.commit()
        committed = time.time()
        assert submitted.decision.allow, submitted.decision
        return committed


class WorkerPool:
    """Worker processes, started and warmed up once, before any clock starts; each measurement puts the
    first few of them to work."""

    def __init__(self, context: Any, database_url: str, options: WorkerOptions, size: int):
        self.stamps, self.stop = context.Queue(), context.Event()
        self.commands = [context.Queue() for _ in range(size)]
        self.processes = [context.Process(target=serve, args=(database_url, options, commands, self.stamps, self.stop))
                          for commands in self.commands]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            self.next("ready")

    def start(self, count: int, command: str) -> None:
        self.stop.clear()
        for commands in self.commands[:count]:
            commands.put(command)

    def next(self, kind: str, timeout_s: float = 120.0) -> tuple:
        message = self.stamps.get(timeout=timeout_s)
        assert message[0] == kind, message
        return message

    def finish(self, count: int) -> tuple[list[tuple], float]:
        """Wait until `count` workers are done; returns the job stamps not read yet and the CPU seconds the
        workers used."""
        jobs, done, cpu_s = [], 0, 0.0
        while done < count:
            message = self.stamps.get(timeout=300)
            if message[0] == "done":
                done, cpu_s = done + 1, cpu_s + message[1]
            else:
                jobs.append(message)
        return jobs, cpu_s

    def close(self) -> None:
        self.stop.set()
        for commands in self.commands:
            commands.put("exit")
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def final_state_errors(database: Engine, expected: int) -> int:
    """Jobs that did not end `succeeded` after exactly one claim with one result, plus any missing, over
    every job queued so far (`expected`)."""
    with Session(database) as session:
        jobs = session.exec(select(JobRecord.status, JobRecord.attempts)).all()
        results = session.exec(select(func.count()).select_from(ResultRecord)).one()
    wrong = sum(1 for status, attempts in jobs if status != "succeeded" or attempts != 1)
    return wrong + abs(expected - len(jobs)) + abs(expected - results)


def measure_idle_overhead(pool: WorkerPool, submitter: Submitter, poll_s: float, samples: int) -> tuple[list[float], int]:
    """(overheads in ms, jobs whose backend was not called exactly once)."""
    overheads, miscounted = [], 0
    pool.start(1, "serve")
    try:
        for _ in range(samples):
            time.sleep(random.uniform(0, min(poll_s, IDLE_JITTER_S)))
            committed = submitter.submit()
            _, _, submit_called, _ = pool.next("job")
            miscounted += len(submit_called) != 1
            if submit_called:
                overheads.append((submit_called[0] - committed) * 1000)
    finally:
        pool.stop.set()
        pool.finish(1)
    return overheads, miscounted


def machine_cpu() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat; (0, 0) where there is none."""
    try:
        ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


@dataclass
class Throughput:
    """What the runs with one worker count add up to."""

    seconds: float = 0.0
    worker_cpu_s: float = 0.0
    machine_busy_ticks: int = 0
    machine_ticks: int = 0
    stamps: list[tuple] = field(default_factory=list)


def measure_throughput(pool: WorkerPool, count: int, jobs: int, into: Throughput) -> None:
    """`count` workers empty a queue of `jobs`; their time, CPU and job stamps are added to `into`."""
    busy_before, total_before = machine_cpu()
    started = time.time()
    pool.start(count, "drain")
    stamps, cpu_s = pool.finish(count)
    busy_after, total_after = machine_cpu()
    if len(stamps) != jobs:
        raise RuntimeError(f"{count} workers processed {len(stamps)} jobs of {jobs}")
    into.seconds += max(stamp[3] for stamp in stamps) - started
    into.worker_cpu_s += cpu_s
    into.machine_busy_ticks += busy_after - busy_before
    into.machine_ticks += total_after - total_before
    into.stamps += stamps


def interleaved(counts: tuple[int, ...], rounds: int) -> list[int]:
    """Worker counts in rounds, every other round reversed (1 2 4 4 2 1 ...), so that a load that drifts
    during the run (other work on the machine) weighs on every count alike."""
    return [count for round_ in range(rounds) for count in (counts if round_ % 2 == 0 else counts[::-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60, help="queued jobs per throughput run (default 60)")
    parser.add_argument("--rounds", type=int, default=2, help="throughput runs per worker count, interleaved (default 2)")
    parser.add_argument("--samples", type=int, default=100, help="submissions timed one at a time for the overhead (default 100)")
    parser.add_argument("--poll-s", type=float, default=1.0, help="the idle worker's poll interval (default 1.0, as GOVERN_WORKER_POLL_S)")
    parser.add_argument("--shots", type=int, default=64, help="shots per job (default 64)")
    parser.add_argument("--database-url", default=os.environ.get("GOVERN_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    options = parser.parse_args()

    with scratch_database(options.database_url) as database_url:
        database = create_db_engine(database_url)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["govern.dispatch.worker", "govern.backends.aer", "govern.admission.transaction"])
        submitter = pool = None
        try:
            upgrade(database)
            submitter = Submitter(database, options.shots)
            pool = WorkerPool(context, database_url, WorkerOptions(poll_s=options.poll_s, job_timeout_s=60), max(WORKER_COUNTS))
            overheads, miscounted = measure_idle_overhead(pool, submitter, options.poll_s, options.samples)
            errors, queued = miscounted, options.samples
            runs = {count: Throughput() for count in WORKER_COUNTS}
            for count in interleaved(WORKER_COUNTS, options.rounds):
                for _ in range(options.jobs):
                    submitter.submit()
                measure_throughput(pool, count, options.jobs, runs[count])
                queued += options.jobs
            errors += sum(len(stamp[2]) != 1 for run in runs.values() for stamp in run.stamps)
            errors += final_state_errors(database, queued)
        finally:
            if pool is not None:
                pool.close()
            if submitter is not None:
                submitter.engine.close()
            database.dispose()

    jobs_per_s = {count: len(run.stamps) / run.seconds for count, run in runs.items()}
    busy_overheads = [(stamp[2][0] - stamp[1]) * 1000 for stamp in runs[1].stamps if stamp[2]]
    print(json.dumps({
        "cpus": os.cpu_count(),
        "jobs": options.jobs,
        "rounds": options.rounds,
        "samples": options.samples,
        "shots": options.shots,
        "poll_s": options.poll_s,
        "overhead_median_ms": round(statistics.median(overheads), 2),
        "overhead_p99_ms": round(percentile(overheads, 0.99), 2),
        "busy_overhead_median_ms": round(statistics.median(busy_overheads), 2),
        "busy_overhead_p99_ms": round(percentile(busy_overheads, 0.99), 2),
        "jobs_per_s": {str(count): round(rate, 1) for count, rate in jobs_per_s.items()},
        "speedup": {str(count): round(rate / jobs_per_s[1], 2) for count, rate in jobs_per_s.items()},
        "job_median_ms": {str(count): round(statistics.median((stamp[3] - stamp[1]) * 1000 for stamp in run.stamps), 1)
                          for count, run in runs.items()},
        "worker_cpu_ms_per_job": {str(count): round(run.worker_cpu_s * 1000 / len(run.stamps), 1) for count, run in runs.items()},
        "machine_cpu_busy": {str(count): round(run.machine_busy_ticks / run.machine_ticks, 2) if run.machine_ticks else None
                             for count, run in runs.items()},
        "errors": errors,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
