"""Benchmark of circuit profiling in the pool of profiling processes, against profiling in this process.

Run: python benchmarks/bench_profile.py [--seconds S] [--workers N]
Distinct circuits (a varying rotation angle defeats the profile cache) from the examples' circuits, profiled
for S seconds (default 25) each way. The last line printed is one JSON object: profile_p50_ms and
profile_p99_ms (one circuit through `Profiler.profile`: pickled, piped, profiled in a warm child, the profile
sent back as JSON), inprocess_p50_ms and inprocess_p99_ms (`profile_qasm` here), pipe_overhead_p50_ms (their
difference), refusal_ms (a circuit past a 64 MB cap, refused; its child is replaced in the background),
warm_start_s (until the pool's first process answers) and calibration_s (how fast the machine was).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from measure import calibration_seconds, percentile

from govern.circuit import CircuitLimits, load_parsers, profile_qasm
from govern.circuit.profiling import Profiler
from govern.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
CIRCUITS = sorted((ROOT / "examples" / "circuits").glob("*.qasm"))


def distinct_circuits():
    """Endless distinct circuits (OpenQASM 2 and 3): each example circuit with one more rotation of a new angle."""
    texts = [path.read_text() for path in CIRCUITS]
    counter = 0
    while True:
        for text in texts:
            counter += 1
            yield text + f"rz({counter * 1e-6:.9f}) q[0];\n"


def run(profile, seconds: float) -> list[float]:
    circuits, samples = distinct_circuits(), []
    ended = time.monotonic() + seconds
    while time.monotonic() < ended:
        text = next(circuits)
        started = time.perf_counter()
        profile(text, "bench.qasm", CircuitLimits())
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--workers", type=int, default=1)
    options = parser.parse_args()
    calibration = calibration_seconds()
    started = time.monotonic()
    profiler = Profiler(size=options.workers)
    profiler.profile(next(distinct_circuits()), "warm.qasm", CircuitLimits())
    warm_start = time.monotonic() - started
    pooled = run(profiler.profile, options.seconds)
    load_parsers()
    inprocess = run(profile_qasm, options.seconds)
    capped = Profiler(memory_bytes=64 << 20, size=1)
    capped.profile(next(distinct_circuits()), "warm.qasm", CircuitLimits())
    started = time.perf_counter()
    try:
        # the scan would refuse a billion qubits at once; lifted here so that the cap is what stops it
        capped.profile("OPENQASM 2.0;\nqreg q[1000000000];\n", "huge.qasm", CircuitLimits(max_qubits=2_000_000_000))
    except InputError:
        refusal_ms = (time.perf_counter() - started) * 1000
    profiler.close()
    capped.close()
    result = {
        "profile_p50_ms": round(statistics.median(pooled), 3),
        "profile_p99_ms": round(percentile(pooled, 0.99), 3),
        "inprocess_p50_ms": round(statistics.median(inprocess), 3),
        "inprocess_p99_ms": round(percentile(inprocess, 0.99), 3),
        "pipe_overhead_p50_ms": round(statistics.median(pooled) - statistics.median(inprocess), 3),
        "profiles": {"pooled": len(pooled), "inprocess": len(inprocess)},
        "refusal_ms": round(refusal_ms, 1),
        "warm_start_s": round(warm_start, 2),
        "calibration_s": calibration,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
