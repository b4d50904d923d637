"""One walk over a parsed JSON value for what a database or a policy engine cannot hold exactly: nesting past
a bound, NUL or lone surrogates in text, keys that are not text, non-finite numbers, integers out of range,
values JSON has no type for. It says where (the keys and indexes from the root) and what; each caller words
the message its users read (the service names a JSON pointer, the lineage store a dotted field).

The walk is iterative, so the depth bound is met before anything deep is touched, and it keeps each value's
path as a link to its parent's, so the common case (nothing wrong) builds no paths.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


class Flaw(enum.Enum):
    TOO_DEEP = "too deep"
    KEY_NOT_TEXT = "key not text"
    NUL = "NUL"
    LONE_SURROGATE = "lone surrogate"
    NOT_FINITE = "not finite"
    OUT_OF_RANGE = "out of range"
    NOT_JSON = "not JSON"


@dataclass(frozen=True)
class ValueProblem:
    path: Path
    flaw: Flaw
    in_key: bool
    """The flaw is in the last key of `path`, not in the value under it."""
    value: Any


_Trail = tuple["_Trail", str | int] | None
"""A path as links to the parent's path: (parent trail, key); None at the root."""


def _path(trail: _Trail) -> Path:
    parts: list[str | int] = []
    while trail is not None:
        trail, key = trail
        parts.append(key)
    return tuple(reversed(parts))


def text_flaw(text: str, *, surrogates: bool = True) -> Flaw | None:
    """Why a string cannot be stored (PostgreSQL text holds no NUL, UTF-8 no lone surrogate), or None;
    `surrogates=False` skips the encoding, for callers that encode the whole value afterwards anyway."""
    if "\x00" in text:
        return Flaw.NUL
    if surrogates:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return Flaw.LONE_SURROGATE
    return None


def first_problem(
    document: Any, *, max_depth: int, integer_range: tuple[int, int] | None = None, surrogates: bool = True
) -> ValueProblem | None:
    """The first thing in `document` that cannot be held exactly, depth first, or None. A value more than
    `max_depth` keys or indexes below the root is too deep (the manifest loader counts the same way)."""
    pending: list[tuple[Any, int, _Trail]] = [(document, 0, None)]
    while pending:
        value, depth, trail = pending.pop()
        if depth > max_depth:
            return ValueProblem(_path(trail), Flaw.TOO_DEEP, False, None)
        if isinstance(value, dict):
            for key, child in value.items():
                flaw = Flaw.KEY_NOT_TEXT if not isinstance(key, str) else text_flaw(key, surrogates=surrogates)
                if flaw is not None:
                    return ValueProblem(_path((trail, key)), flaw, True, key)
                pending.append((child, depth + 1, (trail, key)))
        elif isinstance(value, list):
            pending.extend((child, depth + 1, (trail, index)) for index, child in enumerate(value))
        elif isinstance(value, str):
            if (flaw := text_flaw(value, surrogates=surrogates)) is not None:
                return ValueProblem(_path(trail), flaw, False, value)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if integer_range is not None and not integer_range[0] <= value <= integer_range[1]:
                return ValueProblem(_path(trail), Flaw.OUT_OF_RANGE, False, value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                return ValueProblem(_path(trail), Flaw.NOT_FINITE, False, value)
        else:
            return ValueProblem(_path(trail), Flaw.NOT_JSON, False, value)
    return None
