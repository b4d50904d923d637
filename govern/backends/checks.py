"""What a vendor answers, checked before it is trusted: job statuses, counts, and the result hash.

A run's counts are checked against its shots and hashed, with what else determines a simulator's result,
into an `Execution`: equal runs hash equal, which is how a reproduction is compared with its original.
"""

from __future__ import annotations

import hashlib
import numbers
import re
from collections.abc import Mapping
from typing import Any

from govern.backends.base import BackendError, Execution, JobState
from govern.canonical import canonical_json

_BITSTRING = re.compile(r"^[01]+$")
_VENDOR_STATES = {
    "INITIALIZING": JobState.QUEUED,
    "QUEUED": JobState.QUEUED,
    "VALIDATING": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "DONE": JobState.DONE,
    "ERROR": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
}


def job_state(vendor_status: Any) -> JobState:
    """Qiskit's JobStatus enum and IBM Runtime's status strings, as a JobState."""
    name = str(getattr(vendor_status, "name", vendor_status)).upper()
    if name not in _VENDOR_STATES:
        raise BackendError(f"unexpected job status {vendor_status!r}")
    return _VENDOR_STATES[name]


def checked_counts(raw: Any, shots: int) -> dict[str, int]:
    """Counts as `{bitstring: n}` with registers joined (Aer's spaces removed), or BackendError for garbage."""
    if not isinstance(raw, Mapping) or not raw:
        raise BackendError(f"the backend returned no counts (got {type(raw).__name__})")
    counts: dict[str, int] = {}
    for outcome, count in raw.items():
        bits = outcome.replace(" ", "") if isinstance(outcome, str) else None
        if bits is None or not _BITSTRING.match(bits):
            raise BackendError(f"the backend returned an outcome that is not a bitstring: {outcome!r}")
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise BackendError(f"the backend returned a count that is not a non-negative integer: {count!r}")
        counts[bits] = counts.get(bits, 0) + int(count)
    if len({len(bits) for bits in counts}) != 1:
        raise BackendError("the backend returned outcomes of different widths")
    if sum(counts.values()) != shots:
        raise BackendError(f"the backend returned {sum(counts.values())} outcomes for {shots} shots")
    return dict(sorted(counts.items()))


def result_hash(
    *, counts: Mapping[str, int], device: str, shots: int, seed_transpiler: int, seed_simulator: int,
    calibration_snapshot_id: str | None,
) -> str:
    """sha256 over canonical JSON of what determines a simulator's result: equal runs hash equal."""
    document = {
        "counts": dict(sorted(counts.items())),
        "device": device,
        "shots": shots,
        "seedTranspiler": seed_transpiler,
        "seedSimulator": seed_simulator,
        "calibrationSnapshotId": calibration_snapshot_id,
    }
    return "sha256:" + hashlib.sha256(canonical_json(document)).hexdigest()


def build_execution(
    *, vendor_job_id: str, device: str, raw_counts: Any, shots: int, transpiled: dict[str, Any], seed_transpiler: int,
    seed_simulator: int, calibration_snapshot_id: str | None, usage_seconds: float | None,
) -> Execution:
    """An Execution from a vendor's raw counts, checked and hashed."""
    counts = checked_counts(raw_counts, shots)
    return Execution(
        vendor_job_id=vendor_job_id,
        device=device,
        counts=counts,
        transpiled=transpiled,
        seed_transpiler=seed_transpiler,
        seed_simulator=seed_simulator,
        calibration_snapshot_id=calibration_snapshot_id,
        usage_seconds=usage_seconds,
        result_hash=result_hash(
            counts=counts, device=device, shots=shots, seed_transpiler=seed_transpiler,
            seed_simulator=seed_simulator, calibration_snapshot_id=calibration_snapshot_id,
        ),
    )
