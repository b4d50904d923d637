"""OpenQASM 2 and 3 tokens with their line:col, comments and strings told apart, for the pre-Qiskit scan.

Hand-written because Qiskit's parsers build the circuit while they parse: the scan must bound it first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<newline>\n)
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
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Token:
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
    """The significant tokens; `pragma` lines and `@annotation` lines at a statement's start are dropped whole."""
    tokens: list[Token] = []
    line, line_start, position = 1, 0, 0
    statement_start = True
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None  # `other` matches any character
        kind, value, start = match.lastgroup, match.group(), position
        column = start - line_start + 1
        if statement_start and (value == "#" or value == "@" or value == "pragma"):
            if _line_statement(text, start):
                end = text.find("\n", start)
                position = len(text) if end < 0 else end
                continue
        position = match.end()
        if kind == "newline":
            line, line_start = line + 1, position
        elif kind == "comment":
            newlines = value.count("\n")
            if newlines:
                line, line_start = line + newlines, start + value.rfind("\n") + 1
        elif kind == "open_comment":
            raise ScanError("unterminated /* comment", line, column)
        elif kind == "other":
            if value == '"' or value == "'":
                raise ScanError("unterminated string", line, column)
            raise ScanError(f"unexpected character {value!r}", line, column)
        elif kind != "space":
            tokens.append(Token(kind, value, line, column, start, position))
            statement_start = value in {";", "{", "}"}
    return tokens


def _line_statement(text: str, start: int) -> bool:
    """`#pragma …`, `pragma …` and `@annotation …` run to the end of their line."""
    if text.startswith("#pragma", start) or (text.startswith("pragma", start) and not text[start + 6 : start + 7].isalnum()):
        return True
    return text[start] == "@" and text[start + 1 : start + 2].isalpha()

