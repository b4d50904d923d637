"""Loading an OpenQASM circuit and profiling it for the policies (qubits, depth, two-qubit depth, ops).

Qiskit is imported by `load_parsers()`, not with this module: it costs most of a second, and `govern --help`
or `govern policy list` never parse a circuit.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from govern.errors import InputError, Problem

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_VERSION = re.compile(r"^\s*(?://[^\n]*\n\s*|/\*.*?\*/\s*)*OPENQASM\s+(\d+)(?:\.\d+)?\s*;", re.DOTALL)
_POSITION = re.compile(r"^(?:<input>:)?(\d+),(\d+):\s*")


@dataclass(frozen=True)
class CircuitLimits:
    """Bounds on the work one circuit may cause before policies even run."""

    max_bytes: int = 1_000_000
    max_operations: int = 200_000


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


_parsers_loaded = threading.Event()
_parsers_lock = threading.Lock()


def load_parsers() -> None:
    """Import Qiskit's OpenQASM parsers, on a thread that outlives every parse.

    Imported first on a thread that then exits (a pool thread), Qiskit crashes the process with a
    segmentation fault on a later parse in another thread (seen with qiskit 2.x). So the import runs on the
    main thread, or else on a thread of its own that stays parked for the life of the process.
    """
    if _parsers_loaded.is_set():
        return
    with _parsers_lock:
        if _parsers_loaded.is_set():
            return
        if threading.current_thread() is threading.main_thread():
            _import_parsers()
        else:
            imported = threading.Event()
            keeper = threading.Thread(target=_import_parsers, args=(imported,), name="qiskit-import", daemon=True)
            keeper.start()
            imported.wait()
        _parsers_loaded.set()


def _import_parsers(imported: threading.Event | None = None) -> None:
    from qiskit import qasm2, qasm3  # noqa: F401 - importing is the point

    if imported is not None:
        imported.set()
        threading.Event().wait()


def qasm_version(text: str) -> int:
    """2 or 3 from the `OPENQASM n;` header; OpenQASM 3 allows leaving it out."""
    match = _VERSION.match(text)
    return int(match.group(1)) if match else 3


def parse_circuit(text: str, source: str, include_dir: Path | None = None) -> QuantumCircuit:
    """Parse OpenQASM 2 (strict qelib1.inc, then Qiskit's legacy instructions) or 3; errors carry line:col."""
    version = qasm_version(text)
    if version == 2:
        return _parse_qasm2(text, source, include_dir)
    if version == 3:
        return _parse_qasm3(text, source)
    raise InputError(source, Problem(f"unsupported OpenQASM version {version} (2 and 3 are supported)", line=1, column=1))


def _parse_qasm2(text: str, source: str, include_dir: Path | None) -> QuantumCircuit:
    load_parsers()
    from qiskit import qasm2

    include_path = (str(include_dir),) if include_dir else ()
    try:
        return qasm2.loads(text, strict=True, include_path=include_path)
    except qasm2.QASM2ParseError:
        pass
    try:
        return qasm2.loads(
            text, include_path=include_path, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS
        )
    except qasm2.QASM2ParseError as exc:
        raise InputError(source, _positioned(str(exc).strip("'\""), "OpenQASM 2")) from None


def _parse_qasm3(text: str, source: str) -> QuantumCircuit:
    load_parsers()
    from qiskit import qasm3

    try:
        return qasm3.loads(text)
    except qasm3.QASM3ImporterError as exc:
        raise InputError(source, _positioned(str(exc).strip("'\""), "OpenQASM 3")) from None
    except Exception as exc:  # openqasm3's parser raises its own exception types, often with no message
        raise InputError(source, _antlr_problem(exc)) from None


def _positioned(message: str, language: str) -> Problem:
    match = _POSITION.match(message)
    if not match:
        return Problem(f"invalid {language}: {message}")
    line, column = int(match.group(1)), int(match.group(2)) + 1
    return Problem(f"invalid {language}: {message[match.end():]}", line=line, column=column)


def _antlr_problem(exc: BaseException) -> Problem:
    """Find the offending token in the parser's exception chain: its line and column are what users need."""
    seen: BaseException | None = exc
    while seen is not None:
        if str(seen):
            positioned = re.match(r"L(\d+):C(\d+):\s*(.*)", str(seen))
            if positioned:
                line, column, message = positioned.groups()
                return Problem(f"invalid OpenQASM 3: {message}", line=int(line), column=int(column) + 1)
        for arg in getattr(seen, "args", ()):
            token = getattr(arg, "offendingToken", None)
            if token is not None:
                return Problem(
                    f"invalid OpenQASM 3: unexpected {token.text!r}", line=token.line, column=token.column + 1
                )
        seen = seen.__cause__ or seen.__context__
    return Problem(f"invalid OpenQASM 3: {exc.__class__.__name__}")


def profile_circuit(circuit: QuantumCircuit, text: str, limits: CircuitLimits, source: str) -> CircuitProfile:
    if circuit.size() > limits.max_operations:
        raise InputError(
            source, f"circuit has {circuit.size()} operations, over the limit of {limits.max_operations}"
        )
    return CircuitProfile(
        format=f"qasm{qasm_version(text)}",
        qubits=circuit.num_qubits,
        clbits=circuit.num_clbits,
        size=circuit.size(),
        depth=circuit.depth(),
        two_qubit_depth=circuit.depth(lambda instruction: len(instruction.qubits) == 2),
        non_local_gates=circuit.num_nonlocal_gates(),
        ops={name: int(count) for name, count in circuit.count_ops().items()},
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def profile_qasm(text: str, source: str, limits: CircuitLimits, include_dir: Path | None = None) -> CircuitProfile:
    """Parse and profile one OpenQASM program, bounded by the size and operation limits."""
    size = len(text.encode())
    if size > limits.max_bytes:
        raise InputError(source, f"circuit is {size} bytes, over the {limits.max_bytes}-byte limit")
    return profile_circuit(parse_circuit(text, source, include_dir), text, limits, source)
