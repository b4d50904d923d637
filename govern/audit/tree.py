"""The decision log as a Merkle tree (RFC 6962): leaf `seq - 1` is the record's hash, so one record is proven
genuine by an inclusion proof under a signed checkpoint instead of by walking the whole chain.

The hash chain stays: it names the first record that was edited. The tree adds what the chain cannot give,
a proof of one record in O(log n) hashes, and a proof that a later checkpoint extends an earlier one. Leaf
data is the record's 32-byte hash, which covers every column of the record (govern.audit.record_format),
so the tree covers them too, whatever the record's format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, col, select

from govern.audit import merkle
from govern.audit.note import CheckpointNote, open_note, sign_note
from govern.audit.record_format import HASHED_COLUMNS, fields, row_hash
from govern.db.tables import DecisionRecord, table_of

PROOF_VERSION = 1


def log_leaves(session: Session, size: int | None = None) -> list[bytes]:
    """The leaf hashes of the first `size` records (all of them when None), read from the hash column alone."""
    table = table_of(DecisionRecord)
    query = select(table.c.hash).order_by(table.c.seq)
    if size is not None:
        query = query.where(table.c.seq <= size)
    return [merkle.leaf_hash(bytes.fromhex(value)) for (value,) in session.execute(query)]


def signed_checkpoint(session: Session, origin: str, key: Ed25519PrivateKey) -> tuple[str, list[bytes]]:
    """A signed note of the tree as it stands, and its leaves (for the proofs that go with it)."""
    leaves = log_leaves(session)
    note = sign_note(CheckpointNote(origin, len(leaves), merkle.root(leaves)), origin, key)
    return note, leaves


@dataclass(frozen=True)
class RecordProof:
    """One record, its place in the tree and the path from it to a signed checkpoint's root: all an outsider
    needs, with the public key, to know the record is the log's."""

    record: dict[str, Any]
    index: int
    tree_size: int
    inclusion: list[str]
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        return {"version": PROOF_VERSION, "record": self.record, "leaf_index": self.index, "tree_size": self.tree_size,
                "inclusion_proof": self.inclusion, "checkpoint": self.checkpoint}


def record_columns(row: DecisionRecord) -> dict[str, Any]:
    """The record's columns as hashed, and its hash: enough to recompute the hash without the database."""
    return {**fields(row, HASHED_COLUMNS), "hash": row.hash}


def prove(session: Session, decision_id: str, origin: str, key: Ed25519PrivateKey) -> RecordProof | None:
    """The proof of the record of `decision_id` under a checkpoint signed now; None when no record has it."""
    row = session.exec(select(DecisionRecord).where(col(DecisionRecord.decision_id) == decision_id)).first()
    if row is None:
        return None
    note, leaves = signed_checkpoint(session, origin, key)
    path = merkle.inclusion_proof(row.seq - 1, leaves)
    return RecordProof(record_columns(row), row.seq - 1, len(leaves), [h.hex() for h in path], note)


def check_proof(proof: dict[str, Any], origin: str, trusted: Ed25519PublicKey) -> CheckpointNote:
    """Verify a proof with no database: the record's hash from its columns, its path to the root, and the
    checkpoint's signature. Raises ProofError or NoteError naming what failed; returns the checkpoint."""
    try:
        record, index, size = proof["record"], proof["leaf_index"], proof["tree_size"]
        path = [bytes.fromhex(h) for h in proof["inclusion_proof"]]
        note = proof["checkpoint"]
        recomputed = row_hash(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise merkle.ProofError(f"not a record proof: {exc.__class__.__name__}: {exc}") from None
    if recomputed != record.get("hash"):
        raise merkle.ProofError(f"record {record.get('seq')}: its columns do not match its hash (it was edited)")
    if not isinstance(index, int) or record.get("seq") != index + 1:
        raise merkle.ProofError("the proof's leaf index is not the record's place in the log")
    checkpoint = open_note(note, origin, trusted)
    if checkpoint.size != size:
        raise merkle.ProofError(f"the proof is for a tree of {size} records, the checkpoint has {checkpoint.size}")
    merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(recomputed)), index, size, path, checkpoint.root_hash)
    return checkpoint
