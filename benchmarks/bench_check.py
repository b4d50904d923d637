"""Benchmark of the pre-submit check: decision latency, engines side by side, `govern check` over a CI-sized
batch, and CLI start-up.

Run: python benchmarks/bench_check.py [--decisions N] [--batch N] [--sample N] [--startups N]
The last line printed is one JSON object: decision_p50_ms and decision_p99_ms (the full path: validated
manifest and circuit profile in hand → decision), bare_engine_p50_ms and bare_engine_p99_ms (regorus alone:
clone, input, evaluation), batch_seconds and batch_speedup (one `govern check` over 1,000 manifests against
separate processes), cli_startup_ms (`govern --help`, median), policy_list_ms (`govern policy list`, median)
and engines (bare p50 of every engine present).
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

from measure import calibration_seconds, percentile

from govern.canonical import canonical_json
from govern.check.checker import Checker
from govern.manifest.documents import load_documents, load_one
from govern.manifest.schema import Context
from govern.policy.bundle import ENTRYPOINT, load_bundle
from govern.policy.engines.embedded import RegorusEngine, load_engine
from govern.policy.engines.evaluator import evaluate
from govern.submission import submission_from_document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOW = "2026-11-24T12:00:00+00:00"
GOVERN = str(Path(sys.executable).with_name("govern"))
MANIFEST = EXAMPLES / "allowed" / "vqe-h2-ibm.yaml"


def timed(call, count: int) -> list[float]:
    for _ in range(min(200, count)):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure_decisions(count: int) -> dict[str, object]:
    """The full path (validated manifest and profile in hand → Decision), regorus alone on the same input, and
    every other engine present on that input."""
    bundle = load_bundle()
    engine = RegorusEngine(bundle)
    context = load_one(EXAMPLES / "context.yaml", Context, "Context", 1_000_000)
    checker = Checker(engine, context, now=datetime.fromisoformat(NOW))
    submission = submission_from_document(load_documents(MANIFEST, 1_000_000)[0], 1_000_000)
    profile = checker.profile(submission)
    policy_input = checker.policy_input(submission, profile)
    canonical = canonical_json(policy_input)
    base = load_engine(bundle)
    bare_ms = timed(lambda: evaluate(base, canonical, ENTRYPOINT), count)
    full_ms = timed(lambda: engine.evaluate(checker.policy_input(submission, profile)), count)
    decision = engine.evaluate(checker.policy_input(submission, profile))
    assert decision.allow, decision.deny
    engines = {"embedded": round(statistics.median(bare_ms), 4)}
    engines.update(measure_opa_standin(engine, policy_input, canonical, min(count, 1000)))
    engine.close()
    return {
        "decision_p50_ms": round(statistics.median(full_ms), 4),
        "decision_p99_ms": round(percentile(full_ms, 0.99), 4),
        "bare_engine_p50_ms": round(statistics.median(bare_ms), 4),
        "bare_engine_p99_ms": round(percentile(bare_ms, 0.99), 4),
        "engines": engines,
    }


def measure_opa_standin(engine: RegorusEngine, policy_input: dict, canonical: bytes, count: int) -> dict[str, float]:
    """OPA's Data API over loopback HTTP, answered by the test stand-in (no OPA binary can be installed here):
    the cost of the remote path itself, not of OPA's evaluator."""
    sys.path.insert(0, str(ROOT))
    from govern.policy.engines.opa import RemoteEngine
    from tests.opa_standin import OpaStandIn

    with OpaStandIn(engine, None) as opa:
        remote = RemoteEngine(
            opa.url, engine.bundle_revision, expected_revision=engine.bundle.manifest_revision, allow_insecure_http=True
        )
        samples = timed(lambda: remote.query(ENTRYPOINT, policy_input, canonical), count)
        remote.close()
    return {"opa-standin-http": round(statistics.median(samples), 4)}


def make_batch(directory: Path, count: int) -> None:
    """`count` manifests (every example in turn, renamed) sharing the examples' few small circuits, which lie
    inside the manifests' folder (circuits are read only inside a manifest's folder tree)."""
    shutil.copytree(EXAMPLES / "circuits", directory / "manifests" / "circuits")
    sources = sorted(p for p in EXAMPLES.rglob("*.yaml") if p.parent.name in {"allowed", "denied", "warned"})
    for index in range(count):
        source = sources[index % len(sources)]
        text = source.read_text().replace("../circuits/", "circuits/")
        name = f"m{index:05d}"
        text = text.replace("  name: ", f"  name: {name}-", 1)
        (directory / "manifests" / f"{name}.yaml").write_text(text)


def run_govern(*arguments: str, allowed_exits: tuple[int, ...] = (0,)) -> float:
    """Seconds one `govern` process takes, start to exit, as a user's shell would run it."""
    started = time.perf_counter()
    result = subprocess.run([GOVERN, *arguments], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in allowed_exits:
        raise SystemExit(f"govern {' '.join(arguments)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def govern_check(*paths: str) -> float:
    return run_govern("check", "--context", str(EXAMPLES / "context.yaml"), "--now", NOW, "-f", "json", *paths, allowed_exits=(0, 1))


def measure_startup(count: int) -> dict[str, float]:
    """`govern --help` and `govern policy list` (median of `count` runs each): no circuit, so no qiskit."""
    return {
        "cli_startup_ms": round(statistics.median(run_govern("--help") for _ in range(count)) * 1000, 1),
        "policy_list_ms": round(statistics.median(run_govern("policy", "list") for _ in range(count)) * 1000, 1),
    }


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
    parser.add_argument("--startups", type=int, default=10, help="timed runs of each start-up command (default 10)")
    options = parser.parse_args()
    figures: dict[str, object] = {"cpus": os.cpu_count(), "calibration_loop_s": calibration_seconds()}
    figures.update(measure_decisions(options.decisions))
    figures.update(measure_batch(options.batch, options.sample))
    figures.update(measure_startup(options.startups))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
