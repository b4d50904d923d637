"""The decision log checked against what was signed outside it: checkpoints, oldest first, and the auditor's
state (the newest checkpoint accepted before).

A checkpoint is a signed note of the log's Merkle tree (its size and root hash, govern.audit.note), or a
legacy JSON checkpoint of the head record's hash (govern.audit.checkpoint); both keep verifying. The chain
walk (govern.audit.log.verify) names the first edited record; the tree then shows the first `size` records
are the ones signed, and each checkpoint extends the one before it (an RFC 6962 consistency proof from the
log's own leaves). Two roots for one size are a fork: the key signed two histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, col, select

from govern.audit import merkle
from govern.audit.checkpoint import AuditorState, Checkpoint, CheckpointError, read_small
from govern.audit.log import GENESIS, Pin, verify
from govern.audit.note import NoteError, NoteRefused, open_note
from govern.audit.tree import log_leaves
from govern.db.tables import DecisionRecord


class AnchorRefused(Exception):
    """A checkpoint that is readable but not to be trusted: a bad signature, another log, or out of order."""


@dataclass(frozen=True)
class Anchor:
    """A point the log must still pass through. `label` names it in a problem, `name` in an ordering refusal."""

    label: str
    name: str
    records: int
    head_hash: str | None = None
    root_hash: bytes | None = None
    signed_at: str | None = None


@dataclass(frozen=True)
class Outcome:
    records: int
    head_hash: str
    problem: str | None = None
    accepted: AuditorState | None = None


def load_checkpoint(path: Path, origin: str, trusted: Ed25519PublicKey) -> Anchor:
    """A checkpoint file, signed note or legacy JSON: CheckpointError when unreadable, AnchorRefused when
    the trusted key did not sign it for this log."""
    try:
        text = read_small(path, "checkpoint").decode()
    except UnicodeDecodeError:
        raise CheckpointError(f"{path} is not a checkpoint: not UTF-8") from None
    return read_checkpoint(text, f"checkpoint {path}", str(path), origin, trusted)


def read_checkpoint(text: str, label: str, source: str, origin: str, trusted: Ed25519PublicKey) -> Anchor:
    """A checkpoint's text (from a file, or pasted into the console), labelled for what the log says of it;
    CheckpointError (naming `source`) when it is none, AnchorRefused when the trusted key did not sign it."""
    if text.lstrip()[:1] in ("{", "["):
        legacy = Checkpoint.from_json(text)
        try:
            legacy.check_signature(trusted)
        except CheckpointError as exc:
            raise AnchorRefused(f"{label} is NOT valid: {exc}") from None
        return Anchor(label, label, legacy.records, head_hash=legacy.head_hash, signed_at=legacy.created_at)
    try:
        note = open_note(text, origin, trusted)
    except NoteRefused as exc:
        raise AnchorRefused(f"{label} is NOT valid: {exc}") from None
    except NoteError as exc:
        raise CheckpointError(f"{source} is not a checkpoint: {exc}") from None
    return Anchor(label, label, note.size, root_hash=note.root_hash)


def state_anchor(state: AuditorState, path: Path) -> Anchor:
    root = bytes.fromhex(state.root_hash) if state.root_hash else None
    return Anchor(f"the accepted checkpoint in {path}", f"the one accepted in {path}", state.records, state.head_hash, root, state.created_at)


def in_order(anchors: Sequence[Anchor]) -> None:
    """Refuse a checkpoint older than one before it, or one contradicting another of the same size."""
    for older, newer in pairwise(anchors):
        if newer.records < older.records:
            raise AnchorRefused(f"{newer.name} is older than {older.name}: it covers {newer.records} records, that one {older.records}")
        if newer.records != older.records:
            continue
        if newer.head_hash and older.head_hash and newer.head_hash != older.head_hash:
            raise AnchorRefused(f"{newer.name} contradicts {older.name}: record {newer.records} has two head hashes")
        if newer.root_hash and older.root_hash and newer.root_hash != older.root_hash:
            raise AnchorRefused(
                f"{newer.name} contradicts {older.name}: the first {newer.records} records have two root hashes (the log forked)"
            )


def check_log(session: Session, anchors: Sequence[Anchor]) -> Outcome:
    """Walk the chain through every anchor's head hash, then check every anchor's root hash against the tree
    of the log's first records, and each against the one before by a consistency proof. On success the
    outcome carries the newest anchor as the auditor's new state."""
    in_order(anchors)
    result = verify(session, [Pin(a.records, a.head_hash, a.label) for a in anchors if a.head_hash])
    if not result.ok or not anchors:
        return Outcome(result.records, result.head_hash, result.problem)
    newest = anchors[-1]
    if newest.records > result.records:
        return Outcome(result.records, result.head_hash, _truncated(result.records, newest))
    leaves = log_leaves(session, newest.records)
    if len(leaves) < newest.records:  # removed since the walk
        return Outcome(result.records, result.head_hash, _truncated(len(leaves), newest))
    problem = _tree_problem(leaves, anchors)
    if problem:
        return Outcome(result.records, result.head_hash, problem)
    head = session.exec(select(DecisionRecord.hash).where(col(DecisionRecord.seq) == newest.records)).first()
    accepted = AuditorState(
        newest.records, head or GENESIS, newest.signed_at or datetime.now(UTC).isoformat(), merkle.root(leaves).hex()
    )
    return Outcome(result.records, result.head_hash, None, accepted)


def _truncated(count: int, anchor: Anchor) -> str:
    gone = f"record {count + 1}" if anchor.records == count + 1 else f"records {count + 1} to {anchor.records}"
    return f"the log ends at record {count}, {anchor.label} has {anchor.records}: it was truncated ({gone} removed)"


def _tree_problem(leaves: list[bytes], anchors: Sequence[Anchor]) -> str | None:
    trees = [a for a in anchors if a.root_hash is not None]
    for anchor in trees:
        if merkle.root(leaves[: anchor.records]) != anchor.root_hash:
            return (
                f"record {anchor.records} differs from {anchor.label}: "
                f"the log was rewritten within its first {anchor.records} records"
            )
    for older, newer in pairwise(trees):
        if 0 < older.records < newer.records:
            proof = merkle.consistency_proof(older.records, leaves[: newer.records])
            try:
                merkle.verify_consistency(older.records, newer.records, proof, older.root_hash or b"", newer.root_hash or b"")
            except merkle.ProofError as exc:
                return f"{newer.label} does not extend {older.label}: {exc}"
    return None
