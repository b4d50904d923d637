"""The bounds one circuit is held to before Qiskit builds anything of it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CircuitLimits:
    """Bounds on the work one circuit may cause before policies even run."""

    max_bytes: int = 1_000_000
    max_operations: int = 200_000
    max_qubits: int = 1_000
    max_clbits: int = 10_000
