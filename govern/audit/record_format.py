"""Decision-record formats: what a record's hash covers, by format version, and how its columns are checked.

Format 1 (records written before migration 0011) hashes the previous hash and the record's JSON content; its
columns are checked against that content. Format 2 hashes every column of the row, the previous hash and the
format itself included, so no column can change without breaking the chain. A format's column list is
frozen: a record keeps verifying under the rules it was written with, so a new table column needs a new
format (tests/audit/test_audit_tamper.py fails while a column of the table is outside the current format).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from govern.canonical import canonical_json

CURRENT_FORMAT = 2
FORMAT_2_COLUMNS = (
    "seq", "decision_id", "kind", "actor", "team", "outcome", "bundle_revision", "input_hash", "recorded_at",
    "record", "prev_hash", "format",
)
FORMAT_2_DOMAIN = b"govern decision record, format 2\n"
"""Prefixed to what format 2 hashes, so its digest can never equal a format-1 one."""


def as_utc(value: datetime) -> datetime:
    """The log's times are UTC: SQLite hands back naive values (written in UTC) and compares wall times."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_text(value: datetime) -> str:
    """A timestamp as hashed and exported: UTC with its offset."""
    return as_utc(value).isoformat(timespec="microseconds")


def team_of(policy_input: object) -> str:
    experiment = policy_input.get("experiment") if isinstance(policy_input, Mapping) else None
    metadata = experiment.get("metadata") if isinstance(experiment, Mapping) else None
    team = metadata.get("team", "") if isinstance(metadata, Mapping) else ""
    return team if isinstance(team, str) else ""


def outcome_of(decision: Mapping[str, Any]) -> str:
    return "denied" if not decision.get("allow") else ("warned" if decision.get("warn") else "allowed")


def fields(row: Any, columns: tuple[str, ...]) -> dict[str, Any]:
    """The row's column values in their hashed form (timestamps as UTC text)."""
    values = {}
    for name in columns:
        value = getattr(row, name)
        values[name] = utc_text(value) if isinstance(value, datetime) else value
    return values


def row_hash(values: Mapping[str, Any]) -> str:
    """The hash a record of `values["format"]` carries; `values` holds the column values as `fields` gives them."""
    if values["format"] == 1:
        return hashlib.sha256(values["prev_hash"].encode() + b"\n" + values["record"].encode()).hexdigest()
    if values["format"] == 2:
        return hashlib.sha256(FORMAT_2_DOMAIN + canonical_json({c: values[c] for c in FORMAT_2_COLUMNS})).hexdigest()
    raise ValueError(f"unknown record format {values['format']!r}")


def content_of(record: str) -> dict[str, Any] | None:
    """The record's JSON content, or None when it is not a JSON object in canonical form."""
    try:
        content = json.loads(record)
    except ValueError:
        return None
    if not isinstance(content, dict) or canonical_json(content).decode() != record:
        return None
    return content


def columns_from_content(content: Mapping[str, Any]) -> dict[str, Any]:
    """The column values a record's content says it has (None where the content has no readable value)."""
    decision = content.get("decision")
    decision = decision if isinstance(decision, Mapping) else {}
    recorded = content.get("recorded_at")
    try:
        recorded_at = utc_text(datetime.fromisoformat(recorded)) if isinstance(recorded, str) else None
    except ValueError:
        recorded_at = None
    return {
        "seq": content.get("seq"),
        "decision_id": decision.get("decision_id"),
        "kind": content.get("kind"),
        "actor": content.get("actor"),
        "team": team_of(content.get("input")),
        "outcome": outcome_of(decision),
        "bundle_revision": decision.get("bundle_revision"),
        "input_hash": decision.get("input_hash"),
        "recorded_at": recorded_at,
    }


def column_differing(row: Any, content: Mapping[str, Any]) -> str | None:
    """The first column whose value differs from what the record's content says it is."""
    expected = columns_from_content(content)
    stored = fields(row, tuple(expected))
    return next((name for name, value in expected.items() if stored[name] != value), None)


EXACT_INTEGERS_KEY = "integers_as_strings"
"""Format 3 (RFC 8785 JSON) carries integers beyond ±(2**53 - 1), the epoch nanoseconds the policies read,
as decimal strings, and lists where it did so under this key, as RFC 6901 JSON Pointers into the content."""


def policy_input_of(content: Mapping[str, Any]) -> dict[str, Any]:
    """The policy input exactly as the engine was given it: integers a format-3 record carries as strings
    (at the pointers it lists) are integers again, so a replay decides on the same input."""
    restored = copy.deepcopy(dict(content))
    for pointer in content.get(EXACT_INTEGERS_KEY, ()):
        *path, last = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
        parent: Any = restored
        for part in path:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        key: Any = int(last) if isinstance(parent, list) else last
        parent[key] = int(parent[key])
    policy_input: dict[str, Any] = restored.get("input", {})
    return policy_input


def content_rule_ids(content: Mapping[str, Any]) -> list[str]:
    decision = content.get("decision", {})
    return [f["rule"] for kind in ("deny", "warn", "waived") for f in decision.get(kind, [])]
