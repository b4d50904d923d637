"""Loading an OpenQASM circuit and profiling it for the policies (qubits, depth, two-qubit depth, ops).

A hand-written scan (`scan.py`) bounds qubits, clbits and the expanded operation count before Qiskit, whose
parsers allocate the circuit while parsing, sees the text; `parse.py` then parses, `profile.py` expands and profiles.
"""

from govern.circuit.limits import CircuitLimits
from govern.circuit.parse import load_parsers, parse_circuit, qasm_version
from govern.circuit.profile import CircuitProfile, expand, profile_circuit, profile_qasm

__all__ = ["CircuitLimits", "CircuitProfile", "expand", "load_parsers", "parse_circuit", "profile_circuit", "profile_qasm", "qasm_version"]
