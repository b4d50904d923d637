"""The decision log: append-only, each record chained to the previous one by hash, so an edited, deleted or
reordered row is found by walking the chain (`govern audit verify`).

A record's hash is SHA-256 over the previous record's hash and the canonical JSON of its content: the
decision (with every rule that fired), the policy input it was made on (secret values are already redacted
there, see govern.secrets), bundle revision, actor and time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from govern.decision import Decision
from govern.engine import canonical_json
from govern.models import DecisionRecord

GENESIS = "0" * 64
APPEND_ATTEMPTS = 20
CHAIN_LOCK_KEY = 0x676F7665726E  # "govern": the PostgreSQL advisory lock that orders appends


def record_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_json(content)).hexdigest()


def append(
    session: Session, decision: Decision, policy_input: dict[str, Any], *, actor: str, kind: str
) -> DecisionRecord:
    """Append one decision at the head of the chain.

    Appenders queue for the head: on PostgreSQL behind a transaction-scoped advisory lock, on SQLite behind the
    write lock every transaction takes. Should two ever race anyway, the loser's insert violates the primary
    key and it retries on the new head, so the chain stays linear.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    team = policy_input.get("experiment", {}).get("metadata", {}).get("team", "")
    for _ in range(APPEND_ATTEMPTS):
        head = session.exec(select(DecisionRecord).order_by(col(DecisionRecord.seq).desc()).limit(1)).first()
        seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS)
        recorded_at = datetime.now(timezone.utc)
        content = {
            "seq": seq,
            "kind": kind,
            "actor": actor,
            "recorded_at": recorded_at.isoformat(),
            "decision": decision.model_dump(mode="json"),
            "input": policy_input,
        }
        row = DecisionRecord(
            seq=seq,
            decision_id=decision.decision_id,
            kind=kind,
            actor=actor,
            team=team,
            outcome=decision.outcome.value,
            bundle_revision=decision.bundle_revision,
            input_hash=decision.input_hash,
            recorded_at=recorded_at,
            record=canonical_json(content).decode(),
            prev_hash=prev_hash,
            hash=record_hash(prev_hash, content),
        )
        savepoint = session.begin_nested()
        try:
            session.add(row)
            session.flush()
        except IntegrityError:
            savepoint.rollback()
            continue
        savepoint.commit()
        return row
    raise RuntimeError("could not append to the decision log: too much contention")


@dataclass(frozen=True)
class Verification:
    records: int
    head_hash: str
    problem: str | None = None
    bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def walk(session: Session, batch: int = 1000, *conditions: Any) -> Iterator[DecisionRecord]:
    """Records in sequence order (optionally filtered), fetched in batches so memory stays flat on a long log."""
    last = 0
    while True:
        query = select(DecisionRecord).where(DecisionRecord.seq > last, *conditions)
        rows = session.exec(query.order_by(col(DecisionRecord.seq)).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> Verification:
    """Walk the chain; the first record that was edited, removed or moved is named."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    for row in walk(session):
        problem = _check(row, expected_seq, prev_hash)
        if problem:
            return Verification(count, prev_hash, problem, row.seq)
        expected_seq, prev_hash, count = row.seq + 1, row.hash, count + 1
    return Verification(count, prev_hash)


def _check(row: DecisionRecord, expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        return f"record {expected_seq} is missing (the next record is {row.seq})"
    if row.prev_hash != prev_hash:
        return f"record {row.seq} does not follow record {row.seq - 1} (its previous hash differs): a record was removed, reordered or edited"
    try:
        content = json.loads(row.record)
    except json.JSONDecodeError:
        return f"record {row.seq} is not valid JSON"
    if record_hash(prev_hash, content) != row.hash:
        return f"record {row.seq} was edited: its content no longer matches its hash"
    decision = content.get("decision", {})
    columns = {
        "seq": (content.get("seq"), row.seq),
        "decision_id": (decision.get("decision_id"), row.decision_id),
        "actor": (content.get("actor"), row.actor),
        "kind": (content.get("kind"), row.kind),
        "bundle_revision": (decision.get("bundle_revision"), row.bundle_revision),
        "input_hash": (decision.get("input_hash"), row.input_hash),
    }
    outcome = "denied" if not decision.get("allow") else ("warned" if decision.get("warn") else "allowed")
    columns["outcome"] = (outcome, row.outcome)
    for name, (hashed, stored) in columns.items():
        if hashed != stored:
            return f"record {row.seq} was edited: column {name} differs from the hashed record"
    return None


def rule_ids(row: DecisionRecord) -> list[str]:
    decision = json.loads(row.record)["decision"]
    return [f["rule"] for kind in ("deny", "warn", "waived") for f in decision.get(kind, [])]
