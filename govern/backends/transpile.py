"""Preparing a circuit for a device: parsed within its admitted limits, transpiled with its seed, measured.

What the built-in backends share; a plugin may use it too.
"""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from govern.backends.base import BackendError, translated_errors
from govern.circuit import CircuitLimits, parse_circuit
from govern.errors import InputError

_NOT_GATES = frozenset({"barrier", "delay"})


def load_circuit(qasm: str, limits: CircuitLimits | None = None) -> QuantumCircuit:
    """Parse the submitted OpenQASM 2 or 3, within its limits when given; a circuit that measures nothing has no
    counts to return."""
    try:
        circuit = parse_circuit(qasm, "dispatch request", limits=limits)
    except InputError as exc:
        raise BackendError(str(exc)) from exc
    if circuit.num_clbits == 0:
        raise BackendError("the circuit has no classical bits, so there are no counts to return")
    return circuit


def transpile_for(circuit: QuantumCircuit, target_backend: Any, seed_transpiler: int, key: str) -> QuantumCircuit:
    """Map the circuit onto the device (layout, routing, basis gates) at optimization level 1, seeded.

    The pass manager gets the device's Target, read once, rather than the backend: Aer builds a new Target
    on every read of `.target`, which the pass manager does per gate name when given the backend (about
    200 ms of every job on a Bell pair); the transpiled circuit is the same."""
    target = target_backend.target
    width = target.num_qubits
    if width is not None and circuit.num_qubits > width:
        raise BackendError(f"the circuit needs {circuit.num_qubits} qubits; {key} has {width}")
    with translated_errors(f"cannot transpile the circuit for {key}"):
        pass_manager = generate_preset_pass_manager(optimization_level=1, target=target, seed_transpiler=seed_transpiler)
        return pass_manager.run(circuit)


def transpiled_metrics(circuit: QuantumCircuit) -> dict[str, Any]:
    """The circuit as the device runs it: what cost, fidelity and comparisons across runs depend on."""
    used = sorted(
        {
            circuit.find_bit(qubit).index
            for instruction in circuit.data
            if instruction.operation.name not in _NOT_GATES
            for qubit in instruction.qubits
        }
    )
    return {
        "qubits": len(used),
        "physicalQubits": used,
        "depth": circuit.depth(),
        "size": circuit.size(),
        "twoQubitDepth": circuit.depth(lambda instruction: len(instruction.qubits) == 2),
        "ops": {name: int(count) for name, count in circuit.count_ops().items()},
    }
