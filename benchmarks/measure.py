"""Figures every benchmark reports the same way: percentiles of its samples, and how fast the machine was."""

from __future__ import annotations

import time


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at `fraction` of the sorted samples (0.0 when there are none)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def calibration_seconds() -> float:
    """Seconds this interpreter takes for ten million additions: how fast the machine was during the run
    (this 2-core machine has measured anywhere from 0.5 s to 1.6 s), so figures from two runs can be compared."""
    started = time.perf_counter()
    total = 0
    for value in range(10_000_000):
        total += value
    return round(time.perf_counter() - started, 2)
