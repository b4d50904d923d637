"""OpenQASM 2 and 3 tokens with their line:col, comments and strings told apart, for the pre-Qiskit scan.

Hand-written because Qiskit's parsers build the circuit while they parse: the scan must bound it first.
"""

from __future__ import annotations

import re
from typing import NamedTuple, cast

_TOKEN = re.compile(
    r"""
    (?P<newline>\n)
    |(?P<line_statement>^[ \t]*(?:\#pragma|pragma\b|@[^\W\d])[^\n]*)
    |(?P<space>[ \t\r\f\v]+)
    |(?P<comment>//[^\n]*|/\*.*?\*/)
    |(?P<open_comment>/\*)
    |(?P<string>"[^"\n]*"|'[^'\n]*')
    |(?P<number>(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+)|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
    |(?P<physical>\$\d+)
    |(?P<name>[^\W\d]\w*)
    |(?P<symbol>->|==|!=|<=|>=|<<|>>|\*\*|&&|\|\||\+\+|[-+*/%^&|~!<>=(){}\[\];:,.@])
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)
_SKIPPED = frozenset({"space", "line_statement"})


class Token(NamedTuple):
    kind: str
    text: str
    line: int
    column: int
    start: int
    end: int


class ScanError(Exception):
    """A problem the scan found, at a line:col of the text it was reading."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def tokenize(text: str) -> list[Token]:
    """The significant tokens; `pragma` and `@annotation` lines are dropped whole."""
    tokens: list[Token] = []
    append = tokens.append
    line, line_start = 1, 0
    for match in _TOKEN.finditer(text):
        kind = cast(str, match.lastgroup)  # every alternative of _TOKEN is a named group
        if kind in _SKIPPED:
            continue
        if kind == "newline":
            line, line_start = line + 1, match.end()
            continue
        start, value = match.start(), match.group()
        if kind == "comment":
            newlines = value.count("\n")
            if newlines:
                line, line_start = line + newlines, start + value.rfind("\n") + 1
        elif kind == "open_comment":
            raise ScanError("unterminated /* comment", line, start - line_start + 1)
        elif kind == "other":
            message = "unterminated string" if value in "\"'" else f"unexpected character {value!r}"
            raise ScanError(message, line, start - line_start + 1)
        else:
            append(Token(kind, value, line, start - line_start + 1, start, match.end()))
    return tokens
