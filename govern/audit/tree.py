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
from govern.audit.checkpoint import is_sha256_hex
from govern.audit.kept_tree import KeptTree, TreeView
from govern.audit.note import CheckpointNote, NoteError, open_note, sign_note
from govern.audit.record_format import HASHED_COLUMNS, fields, row_hash
from govern.db.tables import DecisionRecord, table_of

PROOF_VERSION = 1
MAX_TREE_SIZE = 2**31 - 1
"""Records are numbered by an INTEGER column: no tree is larger, and a larger size is refused before the query."""


def log_leaves(session: Session, size: int | None = None) -> list[bytes]:
    """The leaf hashes of the first `size` records (all of them when None), read from the hash column alone."""
    table = table_of(DecisionRecord)
    query = select(table.c.hash).order_by(table.c.seq)
    if size is not None:
        query = query.where(table.c.seq <= min(size, MAX_TREE_SIZE))
    return [merkle.leaf_hash(bytes.fromhex(value)) for (value,) in session.execute(query)]


def log_tree(session: Session, kept: KeptTree | None = None) -> merkle.Subtrees:
    """The tree of the log as it stands: from the process's kept tree when there is one (the service), else
    read whole (a command runs once)."""
    return kept.synced(session) if kept is not None else merkle.LeafList(log_leaves(session))


def signed_checkpoint(session: Session, origin: str, key: Ed25519PrivateKey, kept: KeptTree | None = None) -> tuple[str, merkle.Subtrees]:
    """A signed note of the tree as it stands, and the tree (for the proofs that go with it)."""
    tree = log_tree(session, kept)
    note = sign_note(CheckpointNote(origin, len(tree), tree.range_root(0, len(tree))), origin, key)
    return note, tree


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


def prove(session: Session, decision_id: str, origin: str, key: Ed25519PrivateKey, kept: KeptTree | None = None) -> RecordProof | None:
    """The proof of the record of `decision_id` under a checkpoint signed now; None when no record has it."""
    row = session.exec(select(DecisionRecord).where(col(DecisionRecord.decision_id) == decision_id)).first()
    if row is None:
        return None
    note, tree = signed_checkpoint(session, origin, key, kept)
    path = merkle.inclusion_proof(row.seq - 1, tree)
    return RecordProof(record_columns(row), row.seq - 1, len(tree), [h.hex() for h in path], note)


class ProofUnreadable(merkle.ProofError):
    """Not a proof at all (wrong shape, types or sizes), as opposed to a proof that fails."""


MAX_PATH = 64
"""An audit path has one hash per level of the tree: a log of 2**64 records is beyond any."""


def _hashes(value: Any, what: str) -> list[bytes]:
    if not isinstance(value, list) or len(value) > MAX_PATH:
        raise ProofUnreadable(f"not a proof: {what} is not a list of at most {MAX_PATH} hashes")
    if not all(isinstance(h, str) and is_sha256_hex(h) for h in value):
        raise ProofUnreadable(f"not a proof: {what} holds something other than SHA-256 hashes in hex")
    return [bytes.fromhex(h) for h in value]


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ProofUnreadable(f"not a proof: {what} is not a count")
    return value


def check_proof(proof: dict[str, Any], origin: str, trusted: Ed25519PublicKey) -> CheckpointNote:
    """Verify a proof with no database: the record's hash from its columns, its path to the root, and the
    checkpoint's signature. Raises ProofError (ProofUnreadable when it is no proof) or NoteError naming what
    failed; returns the checkpoint."""
    if not isinstance(proof, dict) or proof.get("version") not in (None, PROOF_VERSION):
        raise ProofUnreadable(f"not a record proof of version {PROOF_VERSION}")
    record, note = proof.get("record"), proof.get("checkpoint")
    if not isinstance(record, dict) or not isinstance(note, str):
        raise ProofUnreadable("not a record proof: it needs a record (an object) and a checkpoint (a signed note)")
    index, size = _count(proof.get("leaf_index"), "leaf_index"), _count(proof.get("tree_size"), "tree_size")
    path = _hashes(proof.get("inclusion_proof"), "inclusion_proof")
    try:
        recomputed = row_hash(record)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProofUnreadable(f"not a record proof: its record lacks a column ({exc.__class__.__name__}: {exc})") from None
    if recomputed != record.get("hash"):
        raise merkle.ProofError(f"record {record.get('seq')}: its columns do not match its hash (it was edited)")
    if record.get("seq") != index + 1:
        raise merkle.ProofError("the proof's leaf index is not the record's place in the log")
    checkpoint = _opened(note, "its", origin, trusted)
    if checkpoint.size != size:
        raise merkle.ProofError(f"the proof is for a tree of {size} records, the checkpoint has {checkpoint.size}")
    merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(recomputed)), index, size, path, checkpoint.root_hash)
    return checkpoint


def _opened(note: str, which: str, origin: str, trusted: Ed25519PublicKey) -> CheckpointNote:
    try:
        return open_note(note, origin, trusted)
    except NoteError as exc:
        raise exc.__class__(f"{which} checkpoint: {exc}") from None


def prove_consistency(session: Session, old_size: int, new_size: int, kept: KeptTree | None = None) -> dict[str, Any]:
    """The consistency proof (RFC 9162 2.1.4) from the tree of the first `old_size` records to that of the
    first `new_size`, as JSON; ProofError when the log has fewer records or the sizes are the wrong way round."""
    tree = log_tree(session, kept) if kept is not None else merkle.LeafList(log_leaves(session, new_size))
    if not 0 <= old_size <= new_size <= len(tree):
        raise merkle.ProofError(f"the log has {len(tree)} records: no consistency proof from {old_size} to {new_size}")
    if isinstance(tree, TreeView):
        tree = tree.at(new_size)
    path = merkle.consistency_proof(old_size, tree) if 0 < old_size < new_size else []
    return {"version": PROOF_VERSION, "tree_size_1": old_size, "tree_size_2": new_size, "consistency_proof": [h.hex() for h in path]}


def check_consistency(
    old_note: str, new_note: str, proof: dict[str, Any] | None, origin: str, trusted: Ed25519PublicKey
) -> tuple[CheckpointNote, CheckpointNote]:
    """Verify with no database that the newer checkpoint's tree extends the older one's: both signed by
    `trusted`, and `proof` (prove_consistency's JSON; none needed between equal sizes or from an empty tree)
    leading to both roots. Raises NoteError or ProofError naming what failed; two roots for one size is a fork."""
    old, new = _opened(old_note, "the older", origin, trusted), _opened(new_note, "the newer", origin, trusted)
    if old.size > new.size:
        raise merkle.ProofError(f"the older checkpoint has {old.size} records, more than the newer one ({new.size}): give them oldest first")
    if old.size == new.size:
        if old.root_hash != new.root_hash:
            raise merkle.ProofError(f"the log forked: two checkpoints of {old.size} records have different root hashes")
        return old, new
    if old.size == 0:
        return old, new
    if proof is None:
        raise ProofUnreadable(f"a consistency proof from {old.size} to {new.size} records is needed")
    if not isinstance(proof, dict):
        raise ProofUnreadable("not a consistency proof: not a JSON object")
    sizes = (_count(proof.get("tree_size_1"), "tree_size_1"), _count(proof.get("tree_size_2"), "tree_size_2"))
    if sizes != (old.size, new.size):
        raise merkle.ProofError(f"the proof is from {sizes[0]} to {sizes[1]} records, the checkpoints have {old.size} and {new.size}")
    path = _hashes(proof.get("consistency_proof"), "consistency_proof")
    try:
        merkle.verify_consistency(old.size, new.size, path, old.root_hash, new.root_hash)
    except merkle.ProofError as exc:
        raise merkle.ProofError(f"the newer checkpoint does not extend the older one (the log was rewritten or forked): {exc}") from None
    return old, new
