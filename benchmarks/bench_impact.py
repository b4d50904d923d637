"""Impact analysis over a long decision log: `--decisions` recorded decisions (default 100,000) replayed on a
tighter candidate bundle (the shipped one plus a team rule on shots), timed from the first record read to the
report. Target: 100,000 in under 60 s on 2 cores.

Seeding is setup and timed apart (seed_seconds): policy inputs are built as the service builds them (the
examples' manifests, varied in team, shots and decision time, through `Checker.policy_input` with the
examples' context), decided by the shipped bundle, and recorded through the real decision log append
(`govern.audit.log.append`, a thousand to a transaction), so every record is valid and chained. To keep the
seeding short, `--distinct` inputs are decided and each is recorded `decisions / distinct` times under its own
decision id; the impact run evaluates every record, so repetition saves it nothing.

Run: python benchmarks/bench_impact.py [--decisions N] [--distinct N] [--workers N] [--database URL]
Default database: a SQLite file in a temporary folder; a `--database` that already holds `--decisions` records
is replayed as it is (seed once, measure again; replayed then counts every record it holds), one that holds
fewer is topped up. Progress is shown when stderr is a terminal.
The last line printed is one JSON object: decisions, replayed, changed, allow_to_deny, deny_to_allow, seconds,
decisions_per_s, seed_seconds, distinct, workers, cpus, calibration_s (ten million additions: how fast the machine was).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from measure import calibration_seconds
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from govern.audit.log import append
from govern.check.checker import Checker
from govern.db.database import create_db_engine, session_scope, upgrade
from govern.db.tables import DecisionRecord
from govern.impact.analysis import Progress, Window, analyse
from govern.manifest.documents import Document, load_documents, load_one
from govern.manifest.schema import Context
from govern.policy.bundle import load_bundle
from govern.policy.engines.embedded import RegorusEngine
from govern.records.policy_revisions import store_revision
from govern.submission import submission_from_request

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOW = datetime.fromisoformat("2026-11-24T12:00:00+00:00")
TEAMS = ("materials-rnd", "platform-qa", "chem-sim", "optics", "finance-risk", "bio-fold", "ml-kernels", "ops")
TIGHT_POLICY = """package govern.custom.bench

import rego.v1

# METADATA
# title: Shots stay under 50,000
# custom:
#   id: BENCH-001
#   severity: high
deny contains finding if {
\tinput.experiment.spec.shots > 50000
\tfinding := {"rule": "BENCH-001", "message": "more than 50,000 shots"}
}
"""


def examples() -> list[tuple[dict[str, Any], str]]:
    """(manifest, circuit text) of every example experiment."""
    found = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for document in load_documents(path, 1_000_000):
            if document.kind != "Experiment":
                continue
            circuit = document.data["spec"]["circuit"]
            text = circuit.get("qasm") or (path.parent / circuit["path"]).read_text()
            found.append((document.data, text))
    return found


def varied_inputs(count: int, engine: RegorusEngine, rng: random.Random) -> list[dict[str, Any]]:
    """`count` policy inputs from the examples, each of another team, shot count and day (over a quarter)."""
    context = load_one(EXAMPLES / "context.yaml", Context, "Context", 1_000_000)
    checkers = {day: Checker(engine, context, now=NOW - timedelta(days=day)) for day in range(0, 90, 3)}
    bases = examples()
    inputs = []
    for _ in range(count):
        manifest, circuit = rng.choice(bases)
        manifest = copy.deepcopy(manifest)
        manifest["metadata"]["team"] = rng.choice(TEAMS)
        manifest["spec"]["shots"] = rng.choice((100, 1000, 2048, 4000, 10_000, 40_000, 60_000, 100_000, 200_000))
        checker = checkers[rng.choice(list(checkers))]
        submission = submission_from_request(Document("manifest", 0, manifest, {}), circuit, 1_000_000)
        inputs.append(checker.policy_input(submission, checker.profile(submission)))
    return inputs


def recorded_count(db: Engine) -> int:
    with Session(db) as session:
        return session.execute(select(func.count()).select_from(DecisionRecord)).scalar_one()


def seed(db: Engine, decisions: int, distinct: int, workers: int, progress: Progress | None) -> None:
    bundle = load_bundle()
    shipped = RegorusEngine(bundle, workers=workers)
    try:
        inputs = varied_inputs(distinct, shipped, random.Random(15))
        decided = shipped.evaluate_many(inputs)
    finally:
        shipped.close()
    with session_scope(db) as session:  # kept, as the service keeps it, so each record can be replayed
        store_revision(session, bundle)
    done = recorded_count(db)
    while done < decisions:
        with session_scope(db) as session:
            for index in range(done, min(done + 1000, decisions)):
                decision = decided[index % distinct].model_copy(update={"decision_id": f"bench-{index:08d}"})
                kind = "submission" if index % 3 else "check"
                append(session, decision, inputs[index % distinct], actor=f"bench-{index % 7}", kind=kind)
        done = min(done + 1000, decisions)
        if progress is not None:
            progress(done, decisions)


@contextmanager
def shown(what: str) -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as Bar

    with Bar(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=2_000, help="distinct policy inputs among the decisions")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="evaluator processes")
    parser.add_argument("--database", help="database URL (default: a SQLite file in a temporary folder); reused when already seeded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govern-bench-impact-") as folder:
        db = create_db_engine(args.database or f"sqlite:///{Path(folder) / 'govern.db'}")
        started = time.perf_counter()
        upgrade(db)
        if recorded_count(db) < args.decisions:  # a database seeded by an earlier run is used as it is
            with shown("seeding recorded decisions") as progress:
                seed(db, args.decisions, min(args.distinct, args.decisions), args.workers, progress)
        seed_seconds = time.perf_counter() - started
        team = Path(folder) / "team"
        team.mkdir()
        (team / "bench.rego").write_text(TIGHT_POLICY)
        candidate = RegorusEngine(load_bundle(policy_dirs=[team]), workers=args.workers)
        try:
            candidate.warm()
            started = time.perf_counter()
            with shown("replaying on the candidate") as progress:
                report = analyse(db, candidate, Window(), progress=progress)
            seconds = time.perf_counter() - started
        finally:
            candidate.close()
            db.dispose()
    print(f"replayed {report.replayed} decisions in {seconds:.1f} s: {report.changed} changed "
          f"({report.allow_to_deny} allow -> deny, {report.deny_to_allow} deny -> allow)", file=sys.stderr)
    print(json.dumps({
        "decisions": args.decisions, "replayed": report.replayed, "changed": report.changed,
        "allow_to_deny": report.allow_to_deny, "deny_to_allow": report.deny_to_allow,
        "seconds": round(seconds, 2), "decisions_per_s": round(report.replayed / seconds, 1) if seconds else None,
        "seed_seconds": round(seed_seconds, 2), "distinct": min(args.distinct, args.decisions), "workers": args.workers,
        "cpus": os.cpu_count(), "calibration_s": calibration_seconds(),
    }))


if __name__ == "__main__":
    main()
