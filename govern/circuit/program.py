"""What the scan has counted so far (qubits, clbits, expanded operations, gate costs), held to the limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from govern.circuit.limits import CircuitLimits
from govern.circuit.tokens import ScanError, Token

CAP = 1 << 62
"""Counts saturate here: nested loops and gates could otherwise build numbers of any size."""


def saturated(value: int) -> int:
    return value if value < CAP else CAP


@dataclass
class Program:
    """What the scan has found so far, across the main file and its includes."""

    limits: CircuitLimits | None
    include_dir: Path | None = None
    root: Path | None = None
    version: int | None = None
    includes_qelib1: bool = False
    qubits: int = 0
    clbits: int = 0
    physical: int = 0
    operations: int = 0
    gates: dict[str, int] = field(default_factory=dict)
    registers: dict[str, int] = field(default_factory=dict)
    included_bytes: int = 0

    def add_qubits(self, count: int, at: Token) -> None:
        self.qubits += count
        self._bound("qubits", self.qubits + self.physical, "max_qubits", "GOVERN_MAX_CIRCUIT_QUBITS", at)

    def use_physical(self, index: int, at: Token) -> None:
        self.physical = max(self.physical, index + 1)
        self._bound("qubits (physical qubits count up to the highest index)", self.qubits + self.physical, "max_qubits", "GOVERN_MAX_CIRCUIT_QUBITS", at)

    def add_clbits(self, count: int, at: Token) -> None:
        self.clbits += count
        self._bound("classical bits", self.clbits, "max_clbits", "GOVERN_MAX_CIRCUIT_CLBITS", at)

    def add_operations(self, count: int, at: Token) -> None:
        self.operations = saturated(self.operations + count)
        self._bound(
            "operations once its gates, loops and register broadcasts are expanded", self.operations, "max_operations",
            "GOVERN_MAX_CIRCUIT_OPERATIONS", at,
        )

    def _bound(self, what: str, total: int, limit_name: str, setting: str, at: Token) -> None:
        limit = getattr(self.limits, limit_name) if self.limits else None
        if limit is not None and total > limit:
            amount = "more than 10^18" if total >= CAP else f"at least {total}" if limit_name == "max_operations" else str(total)
            raise ScanError(f"circuit has {amount} {what}, over the limit of {limit} ({setting})", at.line, at.column)
