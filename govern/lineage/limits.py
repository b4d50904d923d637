"""The bounds of the lineage store, in one place: the store refuses an event past them, and the manifest
refuses a submission whose lineage would be past them, so an accepted submission's events can be stored.

No imports beyond the standard library and `govern.json_values` (itself stdlib-only): the manifest reads these
numbers too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from govern.json_values import Flaw, text_flaw

NAMESPACE_MAX_BYTES = 255
NAME_MAX_BYTES = 1000
"""With these bounds every index entry of `lineage_io` fits PostgreSQL's B-tree limit (2704 bytes)."""
DECISION_ID_MAX = 64
MAX_NESTING = 64
"""Deepest nesting of objects and lists in an event (facets included); the spec's own facets need under 10."""
EARLIEST_EVENT_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(2200, 1, 1, tzinfo=UTC)
"""Event times outside these bounds are typing errors, and near year 1 or 9999 an offset overflows."""


TEXT_PROBLEMS = {
    Flaw.NUL: "contains a NUL character",
    Flaw.LONE_SURROGATE: "contains a lone surrogate (not valid UTF-8)",
}


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored (PostgreSQL text holds no NUL, UTF-8 no lone surrogate), or None."""
    flaw = text_flaw(value)
    return None if flaw is None else TEXT_PROBLEMS[flaw]


def name_problem(value: Any, max_bytes: int) -> str | None:
    """Why a namespace or name cannot be stored, or None: a non-empty string within `max_bytes` of UTF-8."""
    if not isinstance(value, str) or not value:
        return "is required and must be a non-empty string"
    problem = text_problem(value)
    if problem:
        return problem
    if len(value) * 4 > max_bytes and len(value.encode()) > max_bytes:  # UTF-8 takes at most 4 bytes a character
        return f"is longer than {max_bytes} bytes"
    return None


def storable_name(max_bytes: int) -> Callable[[str], str]:
    """A pydantic AfterValidator body: the manifest holds its dataset names to the store's rules."""

    def check(value: str) -> str:
        problem = name_problem(value, max_bytes)
        if problem:
            raise ValueError(f"this value {problem}, which the lineage store refuses (it counts UTF-8 bytes, not characters)")
        return value

    return check
