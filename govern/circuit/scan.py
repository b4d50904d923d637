"""The pre-Qiskit scan: qubits, clbits and the expanded operation count of an OpenQASM 2 or 3 program, bounded
before anything is allocated.

Counting rules (an upper bound on what Qiskit builds once user gates are expanded): a call of a built-in gate is 1,
of a user gate its body's count; a call on whole registers counts their width; a `for` loop multiplies its body
by its range (a range that is not literal is refused); `if`/`else` count both branches, a `while` body once.
Includes are resolved here (see `includes.py`), so Qiskit never opens a file.
"""

from __future__ import annotations

from collections.abc import Callable

from govern.circuit.program import Program, saturated
from govern.circuit.tokens import ScanError, Token, tokenize

MAX_BLOCK_DEPTH = 32
MAX_BRACKET_DEPTH = 64
MAX_DIGITS = 18
POW_WORK = 100_000_000
"""`pow(k) @ g` makes Qiskit build g's 2^n×2^n matrix: refused past this many operations × matrix entries."""

BUILTIN_INCLUDES = frozenset({"qelib1.inc", "stdgates.inc"})
MODIFIERS = frozenset({"ctrl", "negctrl", "inv", "pow"})
NO_OPERATIONS = frozenset(
    {"const", "input", "output", "return", "break", "continue", "end", "int", "uint", "float", "angle", "bool",
     "complex", "duration", "stretch", "array", "readonly", "mutable"}
)
OUTSIDE_CIRCUIT = frozenset({"defcal", "cal", "defcalgrammar", "extern"})
_ASSIGNMENT_OPERATORS = frozenset("+-*/%&|^~") | {"<<", ">>", "**"}
_OPEN = {"(": ")", "[": "]", "{": "}"}

IncludeHandler = Callable[[str, Token, Token, Token], None]
"""Called with (file name, the `include` keyword, the quoted name, the closing `;`)."""


class Reader:
    """One file's statements; `on_include` resolves a non-built-in include (see includes.py)."""

    def __init__(self, program: Program, text: str, on_include: IncludeHandler) -> None:
        self.program = program
        self.tokens = tokenize(text)
        self.i = 0
        self.scope = program.registers
        self.on_include = on_include

    def peek(self, offset: int = 0) -> Token | None:
        index = self.i + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def current(self) -> Token:
        """The token at the reading position; a ScanError at the end of the program."""
        token = self.peek()
        if token is None:
            last = self.tokens[-1] if self.tokens else None
            raise ScanError("unexpected end of the program", last.line if last else 1, last.column if last else 1)
        return token

    def next(self) -> Token:
        token = self.current()
        self.i += 1
        return token

    def at(self, text: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.text == text

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text != text:
            raise ScanError(f"expected {text!r}, found {token.text[:20]!r}", token.line, token.column)
        return token

    def skip_balanced(self) -> list[Token]:
        """Consume a bracketed group from its opening token; return the tokens inside."""
        opening = self.next()
        closers = [_OPEN[opening.text]]
        inside: list[Token] = []
        while closers:
            token = self.next()
            if token.text in _OPEN:
                closers.append(_OPEN[token.text])
                if len(closers) > MAX_BRACKET_DEPTH:
                    raise ScanError(f"brackets nested more than {MAX_BRACKET_DEPTH} deep", token.line, token.column)
            elif token.text in (")", "]", "}"):
                if token.text != closers.pop():
                    raise ScanError(f"unbalanced {token.text!r}", token.line, token.column)
                if not closers:
                    break
            inside.append(token)
        return inside

    def advance(self) -> None:
        """Consume one token, or a whole bracketed group."""
        token = self.peek()
        self.skip_balanced() if token is not None and token.text in _OPEN else self.next()

    def skip_statement(self) -> Token:
        """Consume up to and including the next `;` outside brackets."""
        while True:
            if (ahead := self.peek()) is not None and ahead.text in _OPEN:
                self.skip_balanced()
                continue
            token = self.next()
            if token.text == ";":
                return token
            if token.text in (")", "]", "}"):
                raise ScanError(f"unexpected {token.text!r}", token.line, token.column)

    def program_statements(self) -> None:
        while (first := self.peek()) is not None:
            self.program.add_operations(self.statement(0), first)

    def block(self, depth: int) -> int:
        opening = self.expect("{")
        if depth > MAX_BLOCK_DEPTH:
            raise ScanError(f"blocks nested more than {MAX_BLOCK_DEPTH} deep", opening.line, opening.column)
        total = 0
        while not self.at("}"):
            if self.peek() is None:
                raise ScanError("'{' is never closed", opening.line, opening.column)
            total = saturated(total + self.statement(depth))
        self.next()
        return total

    def body(self, depth: int) -> int:
        return self.block(depth + 1) if self.at("{") else self.statement(depth + 1)

    def statement(self, depth: int) -> int:
        token = self.current()
        if depth > MAX_BLOCK_DEPTH:
            raise ScanError(f"statements nested more than {MAX_BLOCK_DEPTH} deep", token.line, token.column)
        word = token.text if token.kind == "name" else ""
        if token.text == "{":
            return self.block(depth + 1)
        if token.text == ";":
            self.next()
            return 0
        if word == "OPENQASM":
            return self.header()
        if word == "include":
            if depth:
                raise ScanError("include is allowed only at the top level", token.line, token.column)
            return self.include()
        if word in ("qreg", "qubit", "creg", "bit"):
            return self.declare(depth)
        if word in ("gate", "def"):
            return self.define(depth)
        if word == "opaque":
            self.next()
            self.program.gates[self.next().text] = 1
            self.skip_statement()
            return 0
        if word in OUTSIDE_CIRCUIT:
            while not self.at(";") and not self.at("{"):
                self.advance()
            self.skip_balanced() if self.at("{") else self.next()
            return 0
        if word == "for":
            return self.for_loop(depth)
        if word in ("while", "if"):
            self.next()
            self.skip_balanced() if self.at("(") else None
            total = 1 + self.body(depth)
            if word == "if" and self.at("else"):
                self.next()
                total += self.body(depth)
            return saturated(total)
        if word == "switch":
            return self.switch(depth)
        if word == "box":
            self.next()
            self.skip_balanced() if self.at("[") else None
            return self.body(depth)
        if word == "measure":
            self.next()
            width, _ = self.arguments()
            self.skip_statement()
            return width
        if word in ("reset", "delay"):
            self.next()
            self.skip_balanced() if self.at("[") else None
            width, _ = self.arguments()
            self.skip_statement()
            return width
        if word == "barrier":
            self.skip_statement()
            return 1
        if word == "let":
            self.next()
            alias = self.next()
            self.skip_statement()
            self.scope[alias.text] = max(1, self.program.qubits)
            return 0
        if word in NO_OPERATIONS:
            self.skip_statement()
            return 0
        if token.kind == "name":
            return self.call()
        raise ScanError(f"unexpected {token.text[:20]!r}", token.line, token.column)

    def header(self) -> int:
        self.next()
        number = self.next()
        self.skip_statement()
        major = number.text.split(".")[0]
        if number.kind != "number" or not major.isdigit() or len(major) > 3:
            raise ScanError("the OPENQASM header needs a version number, e.g. OPENQASM 3.0;", number.line, number.column)
        self.program.version = int(major)
        if self.program.version not in (2, 3):
            raise ScanError(f"unsupported OpenQASM version {self.program.version} (2 and 3 are supported)", number.line, number.column)
        return 0

    def include(self) -> int:
        keyword = self.next()
        name = self.next()
        if name.kind != "string":
            raise ScanError("include needs a file name in quotes", name.line, name.column)
        end = self.expect(";")
        filename = name.text[1:-1]
        if filename == "qelib1.inc":
            self.program.includes_qelib1 = True
        if filename not in BUILTIN_INCLUDES:
            self.on_include(filename, keyword, name, end)
        return 0

    def declare(self, depth: int) -> int:
        keyword = self.next()
        quantum = keyword.text in ("qreg", "qubit")
        old_style = keyword.text in ("qreg", "creg")
        size = 1
        if not old_style and self.at("["):
            size = self.designator()
        name = self.next()
        if name.kind != "name":
            raise ScanError(f"expected a register name, found {name.text[:20]!r}", name.line, name.column)
        if old_style and self.at("["):
            size = self.designator()
        if quantum:
            self.program.add_qubits(size, name)
        else:
            self.program.add_clbits(size, name)
        if depth == 0:
            self.scope[name.text] = size if quantum else 1
        operations = 0
        if self.at("=") and self.at("measure", 1):
            self.i += 2
            operations, _ = self.arguments()
        self.skip_statement()
        return operations

    def designator(self) -> int:
        inside = self.skip_balanced()
        if len(inside) != 1 or inside[0].kind != "number":
            where = inside[0] if inside else self.tokens[self.i - 1]
            raise ScanError("a register size must be an integer literal", where.line, where.column)
        return integer(inside[0])

    def define(self, depth: int) -> int:
        self.next()
        name = self.next()
        while not self.at("{"):
            self.advance()
        outer, self.scope = self.scope, {}
        try:
            self.program.gates[name.text] = self.block(depth + 1)
        finally:
            self.scope = outer
        return 0

    def for_loop(self, depth: int) -> int:
        keyword = self.next()
        while not self.at("in"):
            if (ahead := self.peek()) is None or ahead.text in ("{", ";"):
                raise ScanError("a for loop needs 'in' and a range", keyword.line, keyword.column)
            self.advance()
        self.next()
        start = self.peek()
        if start is not None and start.text == "[":
            iterations = range_length(self.skip_balanced(), start)
        elif start is not None and start.text == "{":
            inside = self.skip_balanced()
            iterations = (sum(1 for t in inside if t.text == ",") + 1) if inside else 0
        else:
            found = start.text[:20] if start else "the end"
            raise ScanError(
                f"a for loop over {found!r} cannot be bounded before parsing: loop over a literal range [a:b] or set {{…}}",
                keyword.line, keyword.column,
            )
        return saturated(1 + iterations * self.body(depth))

    def switch(self, depth: int) -> int:
        """`switch (x) { case a, b { … } default { … } }` counts every case's body."""
        self.next()
        self.skip_balanced() if self.at("(") else None
        opening = self.expect("{")
        total = 1
        while not self.at("}"):
            if self.peek() is None:
                raise ScanError("'{' is never closed", opening.line, opening.column)
            while not self.at("{"):
                self.next()
            total = saturated(total + self.block(depth + 1))
        self.next()
        return total

    def call(self) -> int:
        token = self.next()
        exponent_applies = False
        while token.text in MODIFIERS and (self.at("@") or self.at("(")):
            exponent_applies |= token.text == "pow"
            self.skip_balanced() if self.at("(") else None
            self.expect("@")
            token = self.next()
        if token.kind != "name":
            raise ScanError(f"expected a gate name, found {token.text[:20]!r}", token.line, token.column)
        cost = self.program.gates.get(token.text, 1)
        if self.at("("):
            self.skip_balanced()
        if self.at("["):
            self.skip_balanced()
        if self.at("=") or ((ahead := self.peek()) is not None and ahead.text in _ASSIGNMENT_OPERATORS and self.at("=", 1)):
            while not self.at("="):
                self.next()
            self.next()
            if self.at("measure"):
                self.next()
                width, _ = self.arguments()
                self.skip_statement()
                return width
            self.skip_statement()
            return 1
        width, arity = self.arguments()
        self.skip_statement()
        if exponent_applies and cost * 4**min(arity, 40) > POW_WORK:
            raise ScanError(
                f"pow(…) @ {token.text} on {arity} qubits is refused: Qiskit would build its 2^{arity}×2^{arity} matrix from {cost} operations",
                token.line, token.column,
            )
        return saturated(cost * width)

    def arguments(self) -> tuple[int, int]:
        """(broadcast width, number of arguments) of a comma-separated qubit argument list."""
        width, arity = 1, 0
        while (ahead := self.peek()) is not None and ahead.text not in (";", "->", "}"):
            token = self.next()
            if token.text == ",":
                continue
            arity += 1
            if token.kind == "physical":
                self.program.use_physical(integer(token, token.text[1:]), token)
            elif token.kind == "name":
                indexed = False
                while self.at("["):
                    inside = self.skip_balanced()
                    indexed = indexed or not any(t.text in (":", ",", "{") for t in inside)
                if not indexed:
                    width = max(width, self.scope.get(token.text, 1))
            elif token.text == "{":
                raise ScanError("unexpected '{' among a statement's arguments", token.line, token.column)
            elif token.text in _OPEN:
                self.i -= 1
                self.skip_balanced()
        return width, arity


def integer(token: Token, text: str | None = None) -> int:
    """An integer literal, its digits bounded before int() sees them."""
    digits = (token.text if text is None else text).replace("_", "")
    if len(digits) > MAX_DIGITS:
        raise ScanError(f"integer {digits[:12]}… has more than {MAX_DIGITS} digits", token.line, token.column)
    try:
        return int(digits, 0) if digits[:2].lower() in ("0x", "0b", "0o") else int(digits)
    except ValueError:
        raise ScanError(f"expected an integer, found {digits[:20]!r}", token.line, token.column) from None


def range_length(inside: list[Token], at: Token) -> int:
    """How many values a literal QASM 3 range [a:b] or [a:step:b] (both ends included) holds."""
    parts: list[list[Token]] = [[]]
    for token in inside:
        parts[-1].append(token) if token.text != ":" else parts.append([])
    values = []
    for part in parts:
        sign = -1 if part and part[0].text == "-" else 1
        literal = part[1:] if sign < 0 else part
        if len(literal) != 1 or literal[0].kind != "number":
            raise ScanError("a for loop range must be integer literals, so its size is known before parsing", at.line, at.column)
        values.append(sign * integer(literal[0]))
    if len(values) == 2:
        values.insert(1, 1)
    if len(values) != 3 or values[1] == 0:
        raise ScanError("a for loop range is [start:end] or [start:step:end], with a step other than 0", at.line, at.column)
    start, step, end = values
    return max(0, (end - start) // step + 1)
