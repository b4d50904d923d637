"""The decision log: append-only, each record chained to the previous one by hash, so an edited, deleted or
reordered row is found by walking the chain (`govern audit verify`).

A record's content is the canonical JSON of the decision (with every rule that fired), the policy input it was
made on (secret values are already redacted there, see govern.secrets), bundle revision, actor and time. Its
hash covers every column of the row, the content and the previous record's hash among them, as RFC 8785 JSON
(record format 3; govern.audit.record_format keeps formats 1 and 2, for records written before, verifiable).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert as sqlalchemy_insert
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from govern.audit.record_format import (
    CURRENT_FORMAT,
    HASHED_COLUMNS,
    RECORD_FORMATS,
    column_differing,
    content_members,
    content_of,
    content_text,
    fields,
    row_hash,
    team_of,
)
from govern.db.tables import DecisionRecord, DecisionRuleRecord, table_of
from govern.policy.decision import Decision

GENESIS = "0" * 64
APPEND_ATTEMPTS = 20
CHAIN_LOCK_KEY = 0x676F7665726E  # "govern": the PostgreSQL advisory lock that orders appends
RULE_ID_CHARS = 200
"""decision_rules.rule's length."""


@dataclass
class Entry:
    """A decision waiting for its place in the chain, its record's content serialised already: the chain's
    lock is held only while the entries are numbered and linked."""

    decision: Decision
    policy_input: dict[str, Any]
    actor: str
    kind: str
    done: bool = False
    error: BaseException | None = None
    content: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.content = content_members(self.kind, self.actor, self.decision.model_dump(mode="json"), self.policy_input)


def append(
    session: Session, decision: Decision, policy_input: dict[str, Any], *, actor: str, kind: str
) -> DecisionRecord:
    """Append one decision at the head of the chain, in the caller's transaction.

    Appenders queue for the head: on PostgreSQL behind a transaction-scoped advisory lock, on SQLite behind the
    write lock every transaction takes. Should two ever race anyway, the loser's insert conflicts on the
    primary key, inserts nothing, and it retries on the new head, so the chain stays linear. Plain statements
    rather than ORM loads and a savepoint: the lock is held from here until the caller commits, so every
    statement in between delays every other appender.
    """
    entry = Entry(decision, policy_input, actor, kind)
    for _ in range(APPEND_ATTEMPTS):
        (row,) = _chain(session, [entry])
        if _insert(session, [row], [entry]):
            return row
    raise RuntimeError("could not append to the decision log: too much contention")


class GroupCommit:
    """Appends decisions from concurrent requests, as many as are waiting in one transaction, so that the
    chain's lock is taken once per batch instead of once per decision (group commit).

    A caller returns only once its own record is committed. Whoever finds no write in progress becomes the
    writer and takes every waiting entry along; the others wait for it, then find their entry done (or go
    next). Used where the decision is all a request records (`POST /v1/check`); a submission appends inside
    its own transaction, with the submission it decides.
    """

    def __init__(self, db: Engine):
        self._db = db
        self._waiting: list[Entry] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()

    def append(self, decision: Decision, policy_input: dict[str, Any], *, actor: str, kind: str) -> None:
        entry = Entry(decision, policy_input, actor, kind)
        with self._queue_lock:
            self._waiting.append(entry)
        with self._writer:
            if not entry.done:
                with self._queue_lock:
                    batch, self._waiting = self._waiting, []
                self._write(batch)
        if entry.error is not None:
            raise entry.error

    def _write(self, batch: list[Entry]) -> None:
        """One transaction for the batch; a conflict (only a writer ignoring the lock could cause one) rolls
        the whole batch back and it is chained again on the new head."""
        try:
            for _ in range(APPEND_ATTEMPTS):
                with Session(self._db) as session:
                    if _insert(session, _chain(session, batch), batch):
                        session.commit()
                        return
                    session.rollback()
            raise RuntimeError("could not append to the decision log: too much contention")
        except BaseException as exc:
            for entry in batch:
                entry.error = exc
            raise
        finally:
            for entry in batch:
                entry.done = True


def _chain(session: Session, entries: list[Entry]) -> list[DecisionRecord]:
    """Take the head (and on PostgreSQL the lock that orders appenders) and link the entries onto it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    table = table_of(DecisionRecord)
    head = session.execute(select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)).first()
    seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    rows = []
    for entry in entries:
        seq += 1
        row = _record(entry, seq, prev_hash)
        rows.append(row)
        prev_hash = row.hash
    return rows


def _record(entry: Entry, seq: int, prev_hash: str) -> DecisionRecord:
    decision = entry.decision
    recorded_at = datetime.now(UTC)
    row = DecisionRecord(
        seq=seq,
        decision_id=decision.decision_id,
        kind=entry.kind,
        actor=entry.actor,
        team=team_of(entry.policy_input),
        outcome=decision.outcome.value,
        bundle_revision=decision.bundle_revision,
        input_hash=decision.input_hash,
        recorded_at=recorded_at,
        record=content_text(entry.content, seq, recorded_at.isoformat()),
        prev_hash=prev_hash,
        format=CURRENT_FORMAT,
        hash="",  # computed next, from the other columns
    )
    row.hash = row_hash(fields(row, HASHED_COLUMNS))
    return row


def _insert(session: Session, rows: list[DecisionRecord], entries: list[Entry]) -> bool:
    """Insert the rows in one statement, then the rules they fired; False when a row's place was taken (those
    rows insert nothing). The rows go as parameters, not as values in the statement, so its compiled form is
    cached."""
    table = table_of(DecisionRecord)
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).on_conflict_do_nothing().returning(table.c.seq)
    if len(session.execute(statement, [row.model_dump() for row in rows]).all()) != len(rows):
        return False
    fired = [rule for row, entry in zip(rows, entries, strict=True) for rule in fired_rules(row, entry.decision)]
    if fired:
        session.execute(sqlalchemy_insert(table_of(DecisionRuleRecord)), fired)
    return True


def fired_rules(row: DecisionRecord, decision: Decision) -> list[dict[str, Any]]:
    """The record's rows of decision_rules: each rule once per effect, however many findings it made (an id
    beyond the column's length, which no shipped rule comes near, indexed by its start)."""
    found = {(effect, finding.rule[:RULE_ID_CHARS]) for effect in ("deny", "warn", "waived") for finding in getattr(decision, effect)}
    return [{"seq": row.seq, "effect": effect, "rule": rule, "team": row.team, "recorded_at": row.recorded_at}
            for effect, rule in sorted(found)]


@dataclass(frozen=True)
class Pin:
    """A point the log must still pass through: a verified checkpoint, or the auditor's accepted state."""

    records: int
    head_hash: str
    label: str


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


def verify(session: Session, pins: Sequence[Pin] = ()) -> Verification:
    """Walk the chain; the first record that was edited, removed, moved or relabelled is named, and so is a
    log that no longer passes through a pin (rewritten) or ends before one (truncated)."""
    at: dict[int, list[Pin]] = {}
    for pin in pins:
        at.setdefault(pin.records, []).append(pin)
    expected_seq, prev_hash, count, newest_format = 1, GENESIS, 0, 1
    for row in walk(session):
        problem = _check(row, expected_seq, prev_hash, newest_format)
        moved = [pin for pin in at.get(row.seq, ()) if pin.head_hash != row.hash]
        if problem is None and moved:
            problem = f"record {row.seq} differs from {moved[0].label}: the log was rewritten up to record {row.seq}"
        if problem:
            return Verification(count, prev_hash, problem, row.seq)
        expected_seq, prev_hash, count, newest_format = row.seq + 1, row.hash, count + 1, row.format
    beyond = [pin for pin in pins if pin.records > count]
    if beyond:
        pin = max(beyond, key=lambda p: p.records)
        gone = f"record {count + 1}" if pin.records == count + 1 else f"records {count + 1} to {pin.records}"
        return Verification(count, prev_hash, f"the log ends at record {count}, {pin.label} has {pin.records}: it was truncated ({gone} removed)", count + 1)
    return Verification(count, prev_hash)


def _check(row: DecisionRecord, expected_seq: int, prev_hash: str, newest_format: int) -> str | None:
    if row.seq != expected_seq:
        return f"record {expected_seq} is missing (the next record is {row.seq})"
    if row.prev_hash != prev_hash:
        return f"record {row.seq} does not follow record {row.seq - 1} (its previous hash differs): a record was removed, reordered or edited"
    if row.format not in RECORD_FORMATS:
        return f"record {row.seq} was edited: its format {row.format} is not a record format"
    values = fields(row, HASHED_COLUMNS)
    content = content_of(row.record, row.format)
    column = column_differing(row, content) if content is not None else None
    if row_hash(values) != row.hash:
        relabelled = next((v for v in RECORD_FORMATS if v != row.format and row_hash({**values, "format": v}) == row.hash), None)
        if relabelled is not None:
            return f"record {row.seq} was relabelled: it is a format-{relabelled} record marked format {row.format}"
        where = f"column {column} differs from its content" if column else "its columns no longer match its hash"
        return f"record {row.seq} was edited: {where}"
    if content is None:
        return f"record {row.seq} was edited: its content is not in format {row.format}'s canonical JSON"
    if column:
        return f"record {row.seq} was edited: column {column} differs from the hashed record"
    if row.format < newest_format:
        return f"record {row.seq} was relabelled: format {row.format} after a format-{newest_format} record (formats never go back)"
    return None

