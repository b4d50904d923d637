"""The profile the policies see: the circuit with its user-defined gates and `for` loops expanded, once the scan
has proved that expansion bounded."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from govern.circuit.limits import CircuitLimits
from govern.circuit.parse import parse_scanned, qasm_version, scan
from govern.errors import InputError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_CUSTOM_GATE_TYPES = {"Gate", "_DefinedGate"}
"""Gates a program defines itself: plain `Gate` from the OpenQASM 3 importer, `_DefinedGate` from the OpenQASM 2 parser."""


class CircuitProfile(BaseModel):
    """What the policies need to know about a circuit, in the shape they read it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    format: str
    qubits: int
    clbits: int
    size: int
    depth: int
    two_qubit_depth: int = Field(alias="twoQubitDepth")
    non_local_gates: int = Field(alias="nonLocalGates")
    ops: dict[str, int]
    sha256: str


def expand(circuit: QuantumCircuit) -> QuantumCircuit:
    """Unroll `for` loops and replace user-defined gates by their bodies, level by level, down to library gates."""
    from qiskit.converters import circuit_to_dag, dag_to_circuit
    from qiskit.transpiler.passes import Decompose, UnrollForLoops

    dag = UnrollForLoops().run(circuit_to_dag(circuit))
    while True:
        custom = {node.op.name for node in dag.op_nodes() if type(node.op).__name__ in _CUSTOM_GATE_TYPES and node.op.definition is not None}
        if not custom:
            return dag_to_circuit(dag)
        dag = Decompose(sorted(custom)).run(dag)


def profile_circuit(circuit: QuantumCircuit, text: str, limits: CircuitLimits, source: str, *, version: int | None = None) -> CircuitProfile:
    if circuit.size() > limits.max_operations:
        raise InputError(
            source, f"circuit has {circuit.size()} operations, over the limit of {limits.max_operations}"
        )
    return CircuitProfile(
        format=f"qasm{version or qasm_version(text)}",
        qubits=circuit.num_qubits,
        clbits=circuit.num_clbits,
        size=circuit.size(),
        depth=circuit.depth(),
        two_qubit_depth=circuit.depth(lambda instruction: len(instruction.qubits) == 2),
        non_local_gates=circuit.num_nonlocal_gates(),
        ops={name: int(count) for name, count in circuit.count_ops().items()},
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def profile_qasm(
    text: str, source: str, limits: CircuitLimits, include_dir: Path | None = None, *, root: Path | None = None
) -> CircuitProfile:
    """Scan (qubits, clbits, expanded operations: bounded before Qiskit allocates), parse, expand and profile one
    OpenQASM program. Includes are read only inside `root` (default: `include_dir`), and only from a file's folder."""
    size = len(text.encode())
    if size > limits.max_bytes:
        raise InputError(source, f"circuit is {size} bytes, over the {limits.max_bytes}-byte limit")
    scanned = scan(text, source, limits, include_dir, root)
    return profile_circuit(expand(parse_scanned(scanned, source)), text, limits, source, version=scanned.version)
