"""The decision log's Merkle tree, as RFC 6962 (Certificate Transparency) defines it, with RFC 9162's
inclusion and consistency proofs and their verification.

Written here rather than taken from a library: the algorithms are a page of RFC 9162 (section 2.1), the
proofs must be plain audit paths any RFC 6962 verifier reads, and the Python Merkle libraries keep every
leaf in their own storage and proofs in their own encoding. tests/audit/test_merkle.py holds RFC 6962's
test vectors (the ones Certificate Transparency and transparency-dev publish).

Every function works on leaf hashes (`leaf_hash` of each entry), so a caller holding the log's record hashes
needs no other storage; a subtree's hash is computed from its leaves, O(n) per proof on the server and
O(log n) hashes for whoever verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(Exception):
    """A proof that does not prove what it claims (or asks about leaves the tree does not have)."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1): where RFC 6962 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf hashes; iterative, so a long log costs no recursion."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0]


class Subtrees(Protocol):
    """A tree that answers the root of any range of its leaves (how the proofs below read it)."""

    def __len__(self) -> int: ...

    def range_root(self, low: int, high: int) -> bytes: ...


class LeafList:
    """Subtrees over a plain list of leaf hashes: each range's root worked out from its leaves."""

    def __init__(self, leaves: Sequence[bytes]):
        self.leaves = leaves

    def __len__(self) -> int:
        return len(self.leaves)

    def range_root(self, low: int, high: int) -> bytes:
        return root(self.leaves[low:high])


def _subtrees(leaves: Sequence[bytes] | Subtrees) -> Subtrees:
    return LeafList(leaves) if isinstance(leaves, Sequence) else leaves


def inclusion_proof(index: int, leaves: Sequence[bytes] | Subtrees) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf `index` in the tree of `leaves`."""
    tree = _subtrees(leaves)
    if not 0 <= index < len(tree):
        raise ProofError(f"leaf {index} is not in a tree of {len(tree)} leaves")
    path: list[bytes] = []
    low, high = 0, len(tree)
    while high - low > 1:
        k = _split(high - low)
        if index - low < k:
            path.append(tree.range_root(low + k, high))
            high = low + k
        else:
            path.append(tree.range_root(low, low + k))
            low += k
    return path[::-1]


def consistency_proof(old_size: int, leaves: Sequence[bytes] | Subtrees) -> list[bytes]:
    """PROOF(m, D[n]): what shows the tree of the first `old_size` leaves is a prefix of the tree of `leaves`."""
    tree = _subtrees(leaves)
    size = len(tree)
    if not 0 < old_size <= size:
        raise ProofError(f"no consistency proof from {old_size} to {size} leaves")
    proof: list[bytes] = []
    low, high, complete = 0, size, True
    while old_size - low != high - low:
        k = _split(high - low)
        if old_size - low <= k:
            proof.append(tree.range_root(low + k, high))
            high = low + k
        else:
            proof.append(tree.range_root(low, low + k))
            low, complete = low + k, False
    if not complete:
        proof.append(tree.range_root(low, high))
    return proof[::-1]


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes) -> None:
    """RFC 9162 2.1.3.2: raise ProofError unless `path` proves leaf hash `leaf` at `index` under `expected_root`."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, computed = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            computed = node_hash(computed, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if computed != expected_root:
        raise ProofError("the inclusion proof does not lead to the checkpoint's root hash")


def verify_consistency(old_size: int, size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> None:
    """RFC 9162 2.1.4.2: raise ProofError unless `proof` shows the tree of `old_size` leaves (root `old_root`)
    is the first `old_size` leaves of the tree of `size` leaves (root `new_root`)."""
    if not 0 < old_size <= size:
        raise ProofError(f"no consistency proof from {old_size} to {size} leaves")
    if old_size == size:
        if proof:
            raise ProofError("trees of the same size need an empty consistency proof")
        if old_root != new_root:
            raise ProofError("two trees of the same size have different root hashes")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # the old tree is a complete subtree: its root starts the path
    if not path:
        raise ProofError("the consistency proof is empty")
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_computed = new_computed = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            old_computed, new_computed = node_hash(node, old_computed), node_hash(node, new_computed)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_computed = node_hash(new_computed, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the trees are deep")
    if old_computed != old_root:
        raise ProofError("the consistency proof does not lead to the older checkpoint's root hash")
    if new_computed != new_root:
        raise ProofError("the consistency proof does not lead to the newer checkpoint's root hash")
