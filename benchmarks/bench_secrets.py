"""Benchmark of the secret scanner: what finding and redacting secrets costs per submission, and how well it finds.

Run: python benchmarks/bench_secrets.py [--seconds N] [--tokens N]
A scan is what every submission pays: every string of the manifest as the policies see it (keys included) and the
comments and string literals of its circuit, found and redacted. The examples/ manifests are the typical manifests,
taken in turn. Scans are timed in this thread's CPU time: on a shared machine wall time also counts the turns of
other processes (wall_ms_per_manifest_p50 and _p99 are given too). The last line printed is one JSON object:
scan_ms_per_manifest_p50 and _p99 (and _max), manifest_ms_p50
and circuit_ms_p50 (the two halves), scan_with_secret_ms_p50 (the denied example, whose redaction runs),
target_ms (0.3) and within_target (p50 and p99 under it), fakes_found and fakes (the fake-secret corpus: each found
in a manifest field), false_positives and ordinary_texts (the false-positive corpus), random_token_miss_24 and
random_token_miss_40 (the share of random 24- and 40-character tokens the high-entropy rule lets through; the
known formats do not depend on it), samples, and calibration_seconds (how fast the machine was, as in
bench_check.py).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from measure import calibration_seconds, percentile

from govern.manifest.documents import load_documents
from govern.manifest.schema import Experiment
from govern.policy.input import experiment_input
from govern.secrets import looks_random, redacted, redacted_circuit, scan
from tests.secret_corpus import negatives, positives

EXAMPLES = ROOT / "examples"
TARGET_MS = 0.3


def examples() -> list[tuple[str, dict, str]]:
    """(name, the manifest as the policies see it, its circuit's text) for every example experiment."""
    found = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for document in load_documents(path, 1_000_000):
            if document.kind == "Experiment":
                experiment = document.validate(Experiment)
                circuit = (path.parent / experiment.spec.circuit.path).read_text() if experiment.spec.circuit.path else ""
                found.append((path.stem, experiment_input(experiment), circuit))
    return found


def timed(call, seconds: float, clock=time.thread_time_ns) -> list[float]:
    """Milliseconds per call, in this thread's CPU time unless another clock is given."""
    samples, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = clock()
        call()
        samples.append((clock() - started) / 1e6)
    return samples


def measure_scans(seconds: float) -> dict[str, object]:
    manifests = examples()
    position = [0]

    def one() -> None:
        _, manifest, circuit = manifests[position[0] % len(manifests)]
        position[0] += 1
        redacted(manifest)
        redacted_circuit(circuit, "spec.circuit.path")

    timed(one, min(2.0, seconds / 10))
    whole = timed(one, seconds * 0.6)
    wall = timed(one, seconds * 0.1, time.perf_counter_ns)
    manifest_only = timed(lambda: [redacted(m) for _, m, _ in manifests], seconds * 0.1)
    circuit_only = timed(lambda: [redacted_circuit(c, "c") for _, _, c in manifests], seconds * 0.1)
    _, secret, secret_circuit = next(m for m in manifests if m[0] == "secret-in-manifest")
    with_secret = timed(lambda: (redacted(secret), redacted_circuit(secret_circuit, "c")), seconds * 0.1)
    p50, p99 = percentile(whole, 0.5), percentile(whole, 0.99)
    return {
        "scan_ms_per_manifest_p50": round(p50, 4),
        "scan_ms_per_manifest_p99": round(p99, 4),
        "scan_ms_per_manifest_max": round(max(whole), 3),
        "wall_ms_per_manifest_p50": round(percentile(wall, 0.5), 4),
        "wall_ms_per_manifest_p99": round(percentile(wall, 0.99), 4),
        "manifest_ms_p50": round(percentile(manifest_only, 0.5) / len(manifests), 4),
        "circuit_ms_p50": round(percentile(circuit_only, 0.5) / len(manifests), 4),
        "scan_with_secret_ms_p50": round(percentile(with_secret, 0.5), 4),
        "target_ms": TARGET_MS,
        "within_target": p50 <= TARGET_MS and p99 <= TARGET_MS,
        "manifests": len(manifests),
        "samples": len(whole),
    }


def measure_corpora(tokens: int) -> dict[str, object]:
    fakes = positives()
    found = sum(fake.kind in {f.kind for f in scan({"spec": {"purpose": fake.text}})} for fake in fakes)
    ordinary = negatives()
    false_positives = sum(bool(scan({"spec": {"purpose": text}})) for text in ordinary)
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits

    def miss(length: int) -> float:
        return round(sum(not looks_random("".join(rng.choice(alphabet) for _ in range(length))) for _ in range(tokens)) / tokens, 4)

    return {"fakes_found": found, "fakes": len(fakes), "false_positives": false_positives, "ordinary_texts": len(ordinary),
            "random_token_miss_24": miss(24), "random_token_miss_40": miss(40)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=50.0, help="seconds of timed scans (default 50)")
    parser.add_argument("--tokens", type=int, default=20000, help="random tokens per length for the miss rates (default 20000)")
    options = parser.parse_args()
    figures = {**measure_scans(options.seconds), **measure_corpora(options.tokens), "calibration_seconds": calibration_seconds()}
    print(f"scan per manifest: p50 {figures['scan_ms_per_manifest_p50']} ms, p99 {figures['scan_ms_per_manifest_p99']} ms "
          f"(target {TARGET_MS} ms); fakes found {figures['fakes_found']}/{figures['fakes']}, "
          f"false positives {figures['false_positives']}/{figures['ordinary_texts']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
