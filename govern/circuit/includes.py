"""Scanning a program with its includes: each include is checked against the path rule, read by us, scanned, and
inlined into the text Qiskit parses, so Qiskit never opens a file; a map leads Qiskit's line:col back home."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from govern.circuit.limits import CircuitLimits
from govern.circuit.paths import contained
from govern.circuit.program import Program
from govern.circuit.scan import Reader
from govern.circuit.tokens import ScanError, Token
from govern.manifest.documents import locate_byte

MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True)
class Segment:
    """Text Qiskit reads from (line, column) on came from `origin` at (origin_line, origin_column)."""

    line: int
    column: int
    origin: str
    origin_line: int
    origin_column: int
    anchor: tuple[int, int] | None
    """Where the outermost include stands in the main program (None for the main program's own text)."""


@dataclass(frozen=True)
class Scan:
    version: int
    qubits: int
    clbits: int
    operations: int
    text: str
    segments: tuple[Segment, ...]

    def origin(self, line: int, column: int) -> tuple[int, int, str]:
        """A line:col of `text` as (line, column, note) in the main program; the note names an included file."""
        index = max(0, bisect.bisect_right([(s.line, s.column) for s in self.segments], (line, column)) - 1)
        segment = self.segments[index]
        origin_line = segment.origin_line + line - segment.line
        origin_column = column if line > segment.line else segment.origin_column + column - segment.column
        if segment.anchor is None:
            return origin_line, origin_column, ""
        return (*segment.anchor, f"in included {segment.origin!r} at {origin_line}:{origin_column}: ")


class _Output:
    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.segments: list[Segment] = []
        self.line, self.column = 1, 1

    def add(self, chunk: str, origin: str, line: int, column: int, anchor: tuple[int, int] | None) -> None:
        if not chunk:
            return
        self.segments.append(Segment(self.line, self.column, origin, line, column, anchor))
        self.chunks.append(chunk)
        newlines = chunk.count("\n")
        if newlines:
            self.line, self.column = self.line + newlines, len(chunk) - chunk.rfind("\n")
        else:
            self.column += len(chunk)


def scan_program(text: str, limits: CircuitLimits | None, include_dir: Path | None = None, root: Path | None = None) -> Scan:
    """Scan a program and its includes (read only inside `root`, default `include_dir`); ScanError when refused."""
    program = Program(limits, include_dir, root or include_dir)
    output = _Output()
    _scan_file(program, text, "", include_dir, None, output, [])
    version = program.version or (2 if program.includes_qelib1 else 3)
    return Scan(version, program.qubits + program.physical, program.clbits, program.operations, "".join(output.chunks), tuple(output.segments))


def _scan_file(program: Program, text: str, origin: str, folder: Path | None, anchor: tuple[int, int] | None, output: _Output, stack: list[Path]) -> None:
    copied = {"offset": 0, "line": 1, "column": 1}

    def on_include(filename: str, keyword: Token, name: Token, end: Token) -> None:
        here = anchor or (keyword.line, keyword.column)
        included = _resolve(program, filename, folder, name, stack)
        output.add(text[copied["offset"] : keyword.start], origin, copied["line"], copied["column"], anchor)
        output.add("\n", origin, keyword.line, keyword.column, anchor)
        try:
            _scan_file(program, _read(included, program, name), filename, included.parent, here, output, [*stack, included])
        except ScanError as exc:
            where = f"{exc.line}:{exc.column}: " if exc.line is not None else ""
            raise ScanError(f"in included {filename!r} at {where}{exc.message}", keyword.line, keyword.column) from None
        output.add("\n", origin, end.line, end.column, anchor)
        copied.update(offset=end.end, line=end.line, column=end.column + 1)

    reader = Reader(program, text, on_include)
    if anchor is None and not reader.tokens:
        raise ScanError("circuit file is empty" + (" (only whitespace or comments)" if text.strip() else ""))
    reader.program_statements()
    output.add(text[copied["offset"] :], origin, copied["line"], copied["column"], anchor)


def _resolve(program: Program, filename: str, folder: Path | None, name: Token, stack: list[Path]) -> Path:
    if folder is None or program.root is None:
        raise ScanError(
            f"include {filename!r} is refused: a circuit that is not a file (inline, or sent to the service) may include only qelib1.inc or stdgates.inc",
            name.line, name.column,
        )
    path = contained(folder, filename, program.root)
    if path is None:
        raise ScanError(
            f"include {filename!r} is outside {program.root}: circuits may include files only inside the manifest's folder tree (or --root)",
            name.line, name.column,
        )
    if path in stack:
        raise ScanError(f"include {filename!r} includes itself", name.line, name.column)
    if len(stack) >= MAX_INCLUDE_DEPTH:
        raise ScanError(f"includes nested more than {MAX_INCLUDE_DEPTH} deep", name.line, name.column)
    if not path.is_file():
        raise ScanError(f"include {filename!r} not found", name.line, name.column)
    return path


def _read(path: Path, program: Program, name: Token) -> str:
    budget = program.limits.max_bytes if program.limits else 1_000_000
    try:
        size = path.stat().st_size
        if program.included_bytes + size > budget:
            raise ScanError(f"includes add up to more than the {budget}-byte circuit limit", name.line, name.column)
        program.included_bytes += size
        data = path.read_bytes()
    except OSError as exc:
        raise ScanError(f"cannot read include: {exc.strerror}", name.line, name.column) from None
    return decode(data)


def decode(data: bytes) -> str:
    """UTF-8 text, or a ScanError at the line:col of the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = locate_byte(data, exc.start)
        raise ScanError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded", line, column) from None
