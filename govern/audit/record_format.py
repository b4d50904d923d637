"""Decision-record formats: what a record's hash covers, by format version, and how its columns are checked.

Format 1 (records written before migration 0011) hashes the previous hash and the record's JSON content; its
columns are checked against that content. Format 2 hashes every column of the row, the previous hash and the
format itself included, so no column can change without breaking the chain. Format 3 hashes the same columns
as RFC 8785 (JCS) JSON, and its content is JCS text, so that a verifier in any language reproduces every hash
with an off-the-shelf JCS library; integers beyond JSON's exact range travel as strings (EXACT_INTEGERS_KEY).
A format's column list is frozen: a record keeps verifying under the rules it was written with, so a new table
column needs a new format (tests/audit/test_audit_tamper.py fails while a column of the table is outside the
current format).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

from govern.canonical import canonical_json

CURRENT_FORMAT = 3
RECORD_FORMATS = (1, 2, 3)
HASHED_COLUMNS = (
    "seq", "decision_id", "kind", "actor", "team", "outcome", "bundle_revision", "input_hash", "recorded_at",
    "record", "prev_hash", "format",
)
"""The columns formats 2 and 3 hash: every column of the table but the hash itself."""
FORMAT_DOMAINS = {2: b"govern decision record, format 2\n", 3: b"govern decision record, format 3\n"}
"""Prefixed to what a format hashes, so its digest can never equal another format's."""
EXACT_INTEGERS_KEY = "integers_as_strings"
"""Format 3 carries integers beyond ±(2**53 - 1), the epoch nanoseconds the policies read (and floats so large
they are integers, which JCS writes as such), as decimal strings, and lists where it did so under this key, as
RFC 6901 JSON Pointers into the content; they read back as integers."""
_EXACT_RANGE = 2**53 - 1
_JCS_EXPONENT_FROM = 1e21
"""From here on JCS writes a number with an exponent, so it reads back as a float."""


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
    version = values["format"]
    if version == 1:
        return hashlib.sha256(values["prev_hash"].encode() + b"\n" + values["record"].encode()).hexdigest()
    if version == 2:
        return hashlib.sha256(FORMAT_DOMAINS[2] + canonical_json({c: values[c] for c in HASHED_COLUMNS})).hexdigest()
    if version == 3:
        columns = jcs_members({c: jcs_scalar(values[c]) for c in HASHED_COLUMNS})
        return hashlib.sha256(FORMAT_DOMAINS[3] + columns.encode()).hexdigest()
    raise ValueError(f"unknown record format {version!r}")


def jcs_scalar(value: Any) -> str:
    """A value as RFC 8785 text. For text, null and integers in JSON's exact range that is what `json.dumps`
    writes (its escapes are JCS's), at a fraction of the JCS library's cost; anything else goes to the library."""
    if value is None or isinstance(value, str) or (type(value) is int and abs(value) <= _EXACT_RANGE):
        return json.dumps(value, ensure_ascii=False)
    return rfc8785.dumps(value).decode()


def jcs_members(members: Mapping[str, str]) -> str:
    """The RFC 8785 text of an object from its members' RFC 8785 texts, keyed by ASCII names. JCS is
    compositional, and ASCII names sort the same by UTF-16 code unit as by code point, so the bulk of a record
    can be serialised before the appender takes the chain's lock (tests check this against the library)."""
    if not all(name.isascii() for name in members):
        raise ValueError("member names must be ASCII")
    return "{" + ",".join(f"{json.dumps(name, ensure_ascii=False)}:{members[name]}" for name in sorted(members)) + "}"


def record_text(content: Mapping[str, Any], version: int) -> str:
    """The record column holding `content` (integers beyond the exact range already strings, from format 3):
    canonical JSON before format 3, RFC 8785 from it."""
    return rfc8785.dumps(content).decode() if version >= 3 else canonical_json(content).decode()


def content_of(record: str, version: int) -> dict[str, Any] | None:
    """The record's JSON content, or None when it is not a JSON object in its format's canonical form."""
    try:
        content = json.loads(record)
        if not isinstance(content, dict) or record_text(content, version) != record:
            return None
    except (ValueError, RecursionError, rfc8785.CanonicalizationError):
        return None
    return content


def content_members(kind: str, actor: str, decision: Mapping[str, Any], policy_input: Mapping[str, Any]) -> dict[str, str]:
    """A format-3 record's content but its place and time, as RFC 8785 member texts: each integer JSON cannot
    carry exactly becomes its decimal string, its pointer listed under EXACT_INTEGERS_KEY (absent when none)."""
    exact_decision, decision_pointers = _exact(decision, "/decision")
    exact_input, input_pointers = _exact(policy_input, "/input")
    members = {"kind": jcs_scalar(kind), "actor": jcs_scalar(actor),
               "decision": rfc8785.dumps(exact_decision).decode(), "input": rfc8785.dumps(exact_input).decode()}
    if decision_pointers or input_pointers:
        members[EXACT_INTEGERS_KEY] = rfc8785.dumps(decision_pointers + input_pointers).decode()
    return members


def content_text(members: Mapping[str, str], seq: int, recorded_at: str) -> str:
    """The record column of a format-3 record: its content members with its place and time."""
    return jcs_members({**members, "seq": jcs_scalar(seq), "recorded_at": jcs_scalar(recorded_at)})


def _exact(value: Any, at: str) -> tuple[Any, list[str]]:
    pointers: list[str] = []

    def convert(item: Any, pointer: str) -> Any:
        if isinstance(item, dict):
            return {k: convert(v, f"{pointer}/{k.replace('~', '~0').replace('/', '~1')}") for k, v in item.items()}
        if isinstance(item, list):
            return [convert(v, f"{pointer}/{i}") for i, v in enumerate(item)]
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > _EXACT_RANGE:
            pointers.append(pointer)
            return str(item)
        if isinstance(item, float) and _EXACT_RANGE < abs(item) < _JCS_EXPONENT_FROM:
            pointers.append(pointer)  # JCS writes it as an integer, which would read back beyond the exact range
            return str(int(item))
        return item

    return convert(value, at), pointers


def restored_content(content: Mapping[str, Any]) -> dict[str, Any]:
    """The content with the integers format 3 carries as strings (at the pointers it lists) integers again.
    Only the containers on those pointers' paths are copied: the rest is shared with `content`."""
    restored = dict(content)
    for pointer in restored.pop(EXACT_INTEGERS_KEY, ()):
        *path, last = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
        parent: Any = restored
        for part in path:
            key: Any = int(part) if isinstance(parent, list) else part
            parent[key] = list(parent[key]) if isinstance(parent[key], list) else dict(parent[key])
            parent = parent[key]
        key = int(last) if isinstance(parent, list) else last
        parent[key] = int(parent[key])
    return restored


def policy_input_of(content: Mapping[str, Any]) -> dict[str, Any]:
    """The policy input exactly as the engine was given it, so a replay decides on the same input."""
    policy_input: dict[str, Any] = restored_content(content).get("input", {})
    return policy_input


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



def content_rule_ids(content: Mapping[str, Any]) -> list[str]:
    decision = content.get("decision", {})
    return [f["rule"] for kind in ("deny", "warn", "waived") for f in decision.get(kind, [])]
