"""Parsing a scanned OpenQASM program with Qiskit; every error carries the line:col of the file it came from.

Qiskit is imported by `load_parsers()`, not with this module: it costs most of a second, and `govern --help`
or `govern policy list` never parse a circuit.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from govern.circuit.includes import Scan, scan_program
from govern.circuit.limits import CircuitLimits
from govern.circuit.tokens import ScanError
from govern.errors import InputError, Problem

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_VERSION = re.compile(r"^\s*(?://[^\n]*\n\s*|/\*.*?\*/\s*)*OPENQASM\s+(\d+)(?:\.\d+)?\s*;", re.DOTALL)
_QELIB1 = re.compile(r"^\s*include\s+\"qelib1\.inc\"\s*;", re.MULTILINE)
_POSITION = re.compile(r"^(?:<input>:)?(\d+),(\d+):\s*")

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
    """2 or 3 from the `OPENQASM n;` header; without one, 2 when it includes qelib1.inc (as Qiskit's loader reads it), else 3."""
    match = _VERSION.match(text)
    if match:
        return int(match.group(1))
    return 2 if _QELIB1.search(text) else 3


def scan(text: str, source: str, limits: CircuitLimits | None, include_dir: Path | None = None, root: Path | None = None) -> Scan:
    """The bounded scan, its refusals as InputErrors at line:col."""
    try:
        return scan_program(text, limits, include_dir, root)
    except ScanError as exc:
        raise InputError(source, Problem(exc.message, line=exc.line, column=exc.column)) from None


def parse_circuit(
    text: str, source: str, include_dir: Path | None = None, *, root: Path | None = None, limits: CircuitLimits | None = None
) -> QuantumCircuit:
    """Scan (bounded by `limits` when given), then parse OpenQASM 2 (strict qelib1.inc, then Qiskit's legacy
    instructions) or 3; errors carry line:col."""
    return parse_scanned(scan(text, source, limits, include_dir, root), source)


def parse_scanned(scanned: Scan, source: str) -> QuantumCircuit:
    load_parsers()
    if scanned.version == 2:
        return _parse_qasm2(scanned, source)
    return _parse_qasm3(scanned, source)


def _parse_qasm2(scanned: Scan, source: str) -> QuantumCircuit:
    from qiskit import qasm2

    try:
        return qasm2.loads(scanned.text, strict=True)
    except qasm2.QASM2ParseError:
        pass
    try:
        return qasm2.loads(scanned.text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except qasm2.QASM2ParseError as exc:
        raise InputError(source, _positioned(scanned, str(exc).strip("'\""), "OpenQASM 2")) from None


def _parse_qasm3(scanned: Scan, source: str) -> QuantumCircuit:
    from qiskit import qasm3

    try:
        return _quiet_qasm3(scanned.text)
    except qasm3.QASM3ImporterError as exc:
        raise InputError(source, _positioned(scanned, str(exc).strip("'\""), "OpenQASM 3")) from None
    except RecursionError:
        raise InputError(source, "invalid OpenQASM 3: nested too deeply") from None
    except Exception as exc:  # openqasm3's parser raises its own exception types, often with no message
        raise InputError(source, _antlr_problem(scanned, exc)) from None


def _quiet_qasm3(text: str) -> QuantumCircuit:
    """qiskit.qasm3.loads, with ANTLR's console listeners removed: its errors belong in the InputError, not on stderr."""
    import qiskit_qasm3_import
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from antlr4.error.ErrorStrategy import BailErrorStrategy
    from openqasm3 import parser as oq3
    from qiskit import qasm3

    class Raise(ErrorListener):
        def syntaxError(self, recognizer: object, offendingSymbol: object, line: int, column: int, msg: str, e: Exception | None) -> None:  # noqa: N802, N803 - ANTLR's names
            raise oq3.QASM3ParsingError(f"L{line}:C{column}: {msg}")

    lexer = oq3.qasm3Lexer(InputStream(text))  # type: ignore[attr-defined]  # openqasm3.parser leaves its ANTLR classes out of __all__
    lexer.removeErrorListeners()
    lexer.addErrorListener(Raise())
    parser = oq3.qasm3Parser(CommonTokenStream(lexer))  # type: ignore[attr-defined]  # as qasm3Lexer above
    parser.removeErrorListeners()
    parser._errHandler = BailErrorStrategy()
    try:
        tree = parser.program()
    except Exception as exc:
        raise oq3.QASM3ParsingError() from exc
    visitor = oq3.QASMNodeVisitor()  # type: ignore[no-untyped-call]  # openqasm3 leaves its __init__ unannotated
    try:
        return qiskit_qasm3_import.convert(visitor.visitProgram(tree))
    except qiskit_qasm3_import.ConversionError as exc:
        raise qasm3.QASM3ImporterError(str(exc)) from exc


def _problem(scanned: Scan, language: str, message: str, line: int, column: int) -> Problem:
    line, column, note = scanned.origin(line, column)
    return Problem(f"invalid {language}: {note}{message}", line=line, column=column)


def _positioned(scanned: Scan, message: str, language: str) -> Problem:
    match = _POSITION.match(message)
    if not match:
        return Problem(f"invalid {language}: {message}")
    return _problem(scanned, language, message[match.end():], int(match.group(1)), int(match.group(2)) + 1)


def _antlr_problem(scanned: Scan, exc: BaseException) -> Problem:
    """Find the offending token in the parser's exception chain: its line and column are what users need."""
    seen: BaseException | None = exc
    while seen is not None:
        if str(seen):
            positioned = re.match(r"L(\d+):C(\d+):\s*(.*)", str(seen))
            if positioned:
                line, column, message = positioned.groups()
                return _problem(scanned, "OpenQASM 3", message, int(line), int(column) + 1)
        for arg in getattr(seen, "args", ()):
            token = getattr(arg, "offendingToken", None)
            if token is not None:
                return _problem(scanned, "OpenQASM 3", f"unexpected {token.text!r}", token.line, token.column + 1)
        seen = seen.__cause__ or seen.__context__
    return Problem(f"invalid OpenQASM 3: {exc.__class__.__name__}")
