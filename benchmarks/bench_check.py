"""Benchmark of the pre-submit check: per-decision overhead, and `govern check` over a CI-sized batch.

Run: python benchmarks/bench_check.py [--decisions N] [--batch N] [--sample N]
The last line printed is one JSON object with the figures (decision_overhead_ratio, decision_p99_ms,
batch_speedup, batch_seconds, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from govern.policy.bundle import load_bundle
from govern.check import Checker
from govern.documents import load_documents, load_one
from govern.canonical import canonical_json
from govern.policy.engines.regocpp import EmbeddedEngine
from govern.manifest import Context
from govern.submission import submission_from_document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOW = "2026-11-24T12:00:00+00:00"
MANIFEST = EXAMPLES / "allowed" / "vqe-h2-ibm.yaml"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_decisions(count: int) -> dict[str, float]:
    """Full path (validated manifest and profile in hand → Decision) against a bare engine call on the same input."""
    engine = EmbeddedEngine(load_bundle())
    context = load_one(EXAMPLES / "context.yaml", Context, "Context", 1_000_000)
    checker = Checker(engine, context, now=datetime.fromisoformat(NOW))
    submission = submission_from_document(load_documents(MANIFEST, 1_000_000)[0], 1_000_000)
    profile = checker.profile(submission)
    policy_input = checker.policy_input(submission, profile)
    canonical = canonical_json(policy_input)

    def bare() -> None:
        engine.query_here(canonical, policy_input)

    def full() -> None:
        engine.evaluate(checker.policy_input(submission, profile))

    for warm in (bare, full):
        for _ in range(200):
            warm()
    bare_ms, full_ms = [], []
    for _ in range(count):
        started = time.perf_counter()
        bare()
        bare_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        full()
        full_ms.append((time.perf_counter() - started) * 1000)
    decision = engine.evaluate(checker.policy_input(submission, profile))
    assert decision.allow, decision.deny
    engine.close()
    return {
        "decision_overhead_ratio": round(statistics.median(full_ms) / statistics.median(bare_ms), 3),
        "decision_p50_ms": round(statistics.median(full_ms), 4),
        "decision_p99_ms": round(percentile(full_ms, 0.99), 4),
        "bare_engine_p50_ms": round(statistics.median(bare_ms), 4),
        "bare_engine_p99_ms": round(percentile(bare_ms, 0.99), 4),
    }


def make_batch(directory: Path, count: int) -> None:
    """`count` manifests (every example in turn, renamed) sharing the examples' few small circuits."""
    shutil.copytree(EXAMPLES / "circuits", directory / "circuits")
    sources = sorted(p for p in EXAMPLES.rglob("*.yaml") if p.parent.name in {"allowed", "denied", "warned"})
    (directory / "manifests").mkdir()
    for index in range(count):
        source = sources[index % len(sources)]
        text = source.read_text()
        name = f"m{index:05d}"
        text = text.replace("  name: ", f"  name: {name}-", 1)
        (directory / "manifests" / f"{name}.yaml").write_text(text)


def govern_check(*paths: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "govern", "check", "--context", str(EXAMPLES / "context.yaml"), "--now", NOW, "-f", "json", *paths],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"govern check failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def measure_batch(count: int, sample: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        make_batch(directory, count)
        manifests = sorted((directory / "manifests").glob("*.yaml"))
        batch_seconds = govern_check(str(directory / "manifests"))
        separate = [govern_check(str(path)) for path in manifests[:sample]]
    scaled = statistics.mean(separate) * count
    return {
        "batch_manifests": count,
        "batch_seconds": round(batch_seconds, 3),
        "separate_process_seconds_each": round(statistics.mean(separate), 3),
        "separate_processes_scaled_seconds": round(scaled, 1),
        "batch_speedup": round(scaled / batch_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=5000, help="timed decisions (default 5000)")
    parser.add_argument("--batch", type=int, default=1000, help="manifests in the CI batch (default 1000)")
    parser.add_argument("--sample", type=int, default=20, help="separate processes timed (default 20)")
    options = parser.parse_args()
    figures = {"cpus": os.cpu_count()}
    figures.update(measure_decisions(options.decisions))
    figures.update(measure_batch(options.batch, options.sample))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
