"""Load and query test of the lineage store: synthetic OpenLineage run events bulk-ingested with
`ingest_many`, then "runs that read dataset X", "graph around dataset X" and "upstream of a run" timed on
the full store.

Run: python benchmarks/bench_lineage.py [--events N] [--database-url URL] [--batch-size N] [--queries N]
Default: 1,000,000 events into a fresh SQLite file in a temporary directory. With --database-url (a
PostgreSQL admin URL), a scratch database is created there and dropped afterwards.

The events look like a shared platform's: 40 teams' govern experiments (namespace `govern.<team>`, with
a policy decision facet) read datasets that Airflow, dbt and Spark jobs write from other datasets; every
run sends START and then COMPLETE (or FAIL). Other producers' run ids are UUIDv7, as OpenLineage clients
make them; govern's are UUIDv4, as it makes them today. Events are generated as `ingest_many` pulls them;
ingest time leaves out the time spent generating them (generate_seconds).
The last line printed is one JSON object: events, stored, ingest_seconds, ingest_events_per_s,
generate_seconds, dataset_runs_query_ms, dataset_runs_team_query_ms, graph_query_ms, graph_depth, graph_nodes,
run_upstream_query_ms, run_upstream_runs, database: medians over random datasets, and over the latest govern
run that read them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch import scratch_database
from sqlmodel import Session

from govern.db.database import create_db_engine, reading, upgrade
from govern.lineage.store import query, write

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
TEAMS = [f"team-{index:02d}" for index in range(40)]
PRODUCERS = {  # job namespace -> producer URI
    "airflow-prod": "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0",
    "dbt://analytics": "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/integration/dbt",
    "spark://cluster-a": "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/integration/spark",
}
DATASET_NAMESPACES = ["postgres://warehouse:5432", "s3://lake-raw", "s3://lake-curated", "bigquery", "snowflake://acme"]
GRAPH_DEPTH = 2
BULK_LOAD_BATCH = 50_000
"""Larger than `ingest_many`'s default, which keeps SQLite's write lock short for a live service: a load
into a fresh database makes nobody wait, and fewer, larger transactions rewrite each index page less often."""


@dataclass(frozen=True)
class Job:
    """A job and the parts every event of its runs shares (read-only, so events may share them)."""

    namespace: str
    common: dict
    inputs_with_schema: list[dict]
    inputs: list[dict]
    outputs: list[dict]
    producer: str

    @classmethod
    def of(cls, namespace: str, name: str, producer: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> Job:
        job_type = {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json",
                    "processingType": "BATCH", "integration": producer.rsplit("/", 1)[-1], "jobType": "TASK"}
        common = {"producer": producer, "schemaURL": SCHEMA_URL, "job": {"namespace": namespace, "name": name, "facets": {"jobType": job_type}}}
        schema = {"schema": {"_producer": "https://github.com/OpenLineage/OpenLineage",
                             "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
                             "fields": [{"name": "id", "type": "BIGINT"}, {"name": "measured_at", "type": "TIMESTAMP"}, {"name": "value", "type": "DOUBLE"}]}}
        unique_inputs, unique_outputs = list(dict.fromkeys(inputs)), list(dict.fromkeys(outputs))
        return cls(namespace, common, [{"namespace": ns, "name": n, "facets": schema} for ns, n in unique_inputs],
                   [{"namespace": ns, "name": n} for ns, n in unique_inputs], [{"namespace": ns, "name": n} for ns, n in unique_outputs], producer)


def dataset(index: int) -> tuple[str, str]:
    return DATASET_NAMESPACES[index % len(DATASET_NAMESPACES)], f"schema_{index % 97}.table_{index}"


def make_jobs(rng: random.Random, events: int) -> tuple[list[Job], int]:
    """Producer jobs (three in five) write datasets from lower-numbered ones, so lineage is a DAG;
    experiments mostly read what producers write and write results of their own. Returns the jobs and
    how many shared datasets there are."""
    datasets = max(50, events // 50)
    count = max(20, events // 400)
    jobs, produced = [], []
    for index in range(count):
        if index % 5 < 3:
            namespace = list(PRODUCERS)[index % len(PRODUCERS)]
            first_output = rng.randrange(1, datasets)
            outputs = [rng.randrange(first_output, datasets) for _ in range(rng.randint(1, 2))]
            upstream = [i for i in produced if i < first_output]
            inputs = [rng.choice(upstream) if upstream and rng.random() < 0.5 else rng.randrange(0, first_output) for _ in range(rng.randint(1, 3))]
            jobs.append(Job.of(namespace, f"dag_{index}.task_{index % 7}", PRODUCERS[namespace], [dataset(i) for i in inputs], [dataset(i) for i in outputs]))
            produced.extend(outputs)
    for index in range(count):
        if index % 5 >= 3:
            team = TEAMS[index % len(TEAMS)]
            inputs = [dataset(rng.choice(produced) if rng.random() < 0.8 else rng.randrange(0, datasets)) for _ in range(rng.randint(1, 3))]
            outputs = [("s3://govern-results", f"{team}/experiment-{index}")]
            jobs.append(Job.of(f"govern.{team}", f"experiment-{index}", "https://govern.dev", inputs, outputs))
    return jobs, datasets


def uuid7(rng: random.Random, moment: datetime) -> uuid.UUID:
    """The run ids OpenLineage clients (1.15 and later: Airflow, dbt, Spark) make: time-ordered UUIDv7."""
    milliseconds = int(moment.timestamp() * 1000)
    return uuid.UUID(int=(milliseconds << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62))


def generate(rng: random.Random, jobs: list[Job], count: int) -> Iterator[dict]:
    """`count` events: runs of random jobs, a START then a COMPLETE (one in twenty FAIL), over a year."""
    began = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=365) / max(1, count // 2)
    for run_index in range(count // 2 + count % 2):
        job = rng.choice(jobs)
        start = began + run_index * step
        governed = job.namespace.startswith("govern.")
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4) if governed else uuid7(rng, start))
        facets: dict = {"nominalTime": {"_producer": job.producer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json",
                                        "nominalStartTime": start.isoformat()}}
        if governed:
            facets["govern_policyDecision"] = {"_producer": job.producer, "_schemaURL": "https://govern.dev/spec/facets/1-0-0/GovernPolicyDecisionRunFacet.json",
                                               "decisionId": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "allow": rng.random() < 0.9,
                                               "outcome": "allowed", "ruleIds": []}
        yield {**job.common, "eventType": "START", "eventTime": start.isoformat(), "run": {"runId": run_id, "facets": facets},
               "inputs": job.inputs_with_schema, "outputs": job.outputs}
        if run_index * 2 + 1 < count:
            ended = start + timedelta(minutes=rng.randint(1, 90))
            yield {**job.common, "eventType": "FAIL" if rng.random() < 0.05 else "COMPLETE", "eventTime": ended.isoformat(),
                   "run": {"runId": run_id, "facets": {}}, "inputs": job.inputs, "outputs": job.outputs}


class Stopwatch:
    """Time spent inside an iterator: generating the events, which the ingest call pulls as it goes."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def timed(self, items: Iterator[dict]) -> Iterator[dict]:
        while True:
            started = time.perf_counter()
            item = next(items, None)
            self.seconds += time.perf_counter() - started
            if item is None:
                return
            yield item


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def run(database_url: str, options: argparse.Namespace) -> dict:
    rng = random.Random(options.seed)
    engine = create_db_engine(database_url)
    upgrade(engine)
    jobs, shared_datasets = make_jobs(rng, options.events)

    generating = Stopwatch()
    with Session(engine) as session:
        started = time.perf_counter()
        stored = write.ingest_many(session, generating.timed(generate(rng, jobs, options.events)), batch_size=options.batch_size)
        ingest_seconds = time.perf_counter() - started - generating.seconds

    read_datasets = sorted({(d["namespace"], d["name"]) for job in jobs for d in job.inputs})
    with Session(reading(engine)) as session:
        runs_all, runs_team, graph_times, graph_nodes, upstream_times, upstream_runs, readers = [], [], [], [], [], [], []
        for index in range(options.queries):
            namespace, name = rng.choice(read_datasets)
            started = time.perf_counter()
            runs = query.dataset_runs(session, namespace, name, None)["runs"]
            runs_all.append(time.perf_counter() - started)
            readers.extend(run["runId"] for run in runs[:1] if run["team"])
            started = time.perf_counter()
            query.dataset_runs(session, namespace, name, {TEAMS[index % len(TEAMS)]})
            runs_team.append(time.perf_counter() - started)
        for _ in range(max(1, options.queries // 4)):
            namespace, name = rng.choice(read_datasets)
            started = time.perf_counter()
            graph = query.graph(session, f"dataset:{namespace}:{name}", GRAPH_DEPTH, None)
            graph_times.append(time.perf_counter() - started)
            graph_nodes.append(len(graph["graph"]))
        for run_id in readers[: max(1, options.queries // 4)]:
            started = time.perf_counter()
            upstream = query.run_upstream(session, run_id, None)
            upstream_times.append(time.perf_counter() - started)
            upstream_runs.append(len(upstream["upstream"]))
    engine.dispose()
    return {
        "events": options.events,
        "stored": stored,
        "jobs": len(jobs),
        "datasets": shared_datasets,
        "batch_size": options.batch_size,
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_events_per_s": round(options.events / ingest_seconds, 1),
        "generate_seconds": round(generating.seconds, 2),
        "dataset_runs_query_ms": median_ms(runs_all),
        "dataset_runs_team_query_ms": median_ms(runs_team),
        "graph_query_ms": median_ms(graph_times),
        "graph_depth": GRAPH_DEPTH,
        "graph_nodes": statistics.median(graph_nodes),
        "run_upstream_query_ms": median_ms(upstream_times),
        "run_upstream_runs": statistics.median(upstream_runs),
        "queries": options.queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to ingest (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=BULK_LOAD_BATCH, help=f"events per transaction (default {BULK_LOAD_BATCH:,})")
    parser.add_argument("--queries", type=int, default=200, help="dataset-runs queries to time; a quarter as many graph and upstream queries (default 200)")
    parser.add_argument("--seed", type=int, default=4, help="random seed of the synthetic events (default 4)")
    parser.add_argument("--database-url", help="PostgreSQL admin URL: a scratch database is made there (default: SQLite in a temp dir)")
    options = parser.parse_args()
    wall = time.perf_counter()

    if options.database_url is None:
        with tempfile.TemporaryDirectory(prefix="govern-lineage-bench-") as directory:
            path = Path(directory) / "lineage.db"
            result = run(f"sqlite:///{path}", options)
            result["database_mb"] = round(sum(p.stat().st_size for p in Path(directory).iterdir()) / 2**20, 1)
        result["database"] = "sqlite"
    else:
        with scratch_database(options.database_url) as database_url:
            result = run(database_url, options)
        result["database"] = "postgresql"
    result["wall_seconds"] = round(time.perf_counter() - wall, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
