"""Circuit loading and profiling with real qiskit: OpenQASM 2 and 3, errors at line:col, bounded work."""

from __future__ import annotations

import pytest

from govern.circuit import CircuitLimits, profile_qasm, qasm_version
from govern.errors import InputError

LIMITS = CircuitLimits()

GHZ_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q -> c;
"""

BELL_QASM3 = """// a comment before the header
OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


def test_qasm2_profile():
    profile = profile_qasm(GHZ_QASM2, "ghz.qasm", LIMITS)
    assert profile.format == "qasm2"
    assert (profile.qubits, profile.clbits) == (3, 3)
    assert profile.ops == {"h": 1, "cx": 2, "measure": 3}
    assert profile.two_qubit_depth == 2
    assert profile.non_local_gates == 2
    assert profile.depth == 4
    assert profile.size == 6
    assert len(profile.sha256) == 64


def test_qasm3_profile_and_header_after_comment():
    profile = profile_qasm(BELL_QASM3, "bell.qasm", LIMITS)
    assert profile.format == "qasm3"
    assert profile.ops == {"h": 1, "cx": 1, "measure": 2}
    assert profile.model_dump(by_alias=True)["twoQubitDepth"] == 1


def test_qasm2_legacy_instructions_are_accepted_after_strict_fails():
    text = GHZ_QASM2.replace("cx q[1],q[2];", "rxx(0.5) q[1],q[2];")
    assert profile_qasm(text, "legacy.qasm", LIMITS).ops["rxx"] == 1


def test_missing_header_means_openqasm_3():
    assert qasm_version('include "stdgates.inc";\nqubit q;\n') == 3


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        (GHZ_QASM2.replace("cx q[0],q[1];", "cx q[0] q[1];"), 6, None),
        (BELL_QASM3.replace("cx q[0], q[1];", "cx q[0] q[1];"), 7, 9),
        (BELL_QASM3.replace("h q[0];", "hadamard q[0];"), 6, None),
    ],
    ids=["qasm2-syntax", "qasm3-syntax", "qasm3-unknown-gate"],
)
def test_broken_circuits_report_file_line_and_column(text, line, column):
    with pytest.raises(InputError) as caught:
        profile_qasm(text, "circuits/broken.qasm", LIMITS)
    problem = caught.value.problems[0]
    assert caught.value.source == "circuits/broken.qasm"
    assert problem.line == line
    assert problem.column is not None and (column is None or problem.column == column)
    assert problem.message.startswith("invalid OpenQASM")


def test_unsupported_version():
    with pytest.raises(InputError, match="unsupported OpenQASM version 4"):
        profile_qasm("OPENQASM 4.0;\n", "v4.qasm", LIMITS)


def test_circuit_byte_limit():
    with pytest.raises(InputError, match="over the 100-byte limit"):
        profile_qasm(GHZ_QASM2, "big.qasm", CircuitLimits(max_bytes=100))


def test_operation_limit():
    with pytest.raises(InputError, match="over the limit of 3"):
        profile_qasm(GHZ_QASM2, "many.qasm", CircuitLimits(max_operations=3))
