"""The decision log's Merkle tree kept by a service process, so a checkpoint or a proof costs the records
appended since the last one plus O(log n) hashes, not a read of every record's hash.

It keeps the hash of every complete, aligned subtree (2n hashes in all: 64 bytes a record, 6.4 MB at
100,000 records), which is all RFC 6962's recursion reads: every left part it splits off is such a subtree.
Before each use it reads the records appended since; if the last record it kept is no longer the log's
(truncated, rewritten at its tail, or another database), it starts again from the first record. What it
signs is what it read, so a record edited in the database later no longer matches its proof (fail closed);
finding the edit is `govern audit verify`'s job.
"""

from __future__ import annotations

import threading

from sqlmodel import Session

from govern.audit import merkle
from govern.db.tables import DecisionRecord, table_of

HASH_BYTES = 32
READ_BATCH = 10_000


class KeptTree:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        """A new list of levels, so views handed out before keep reading the tree they were given."""
        self._levels: list[bytearray] = [bytearray()]
        self._last_seq = 0

    def __len__(self) -> int:
        return len(self._levels[0]) // HASH_BYTES

    def synced(self, session: Session) -> TreeView:
        """The tree of the log as it stands now, fixed at its size (later appends do not change it)."""
        with self._lock:
            if self._last_seq and not self._still_the_logs(session):
                self._reset()  # start again: the log is not the one kept
            table = table_of(DecisionRecord)
            while True:
                query = table.select().with_only_columns(table.c.seq, table.c.hash).where(table.c.seq > self._last_seq)
                rows = session.execute(query.order_by(table.c.seq).limit(READ_BATCH)).all()
                for seq, value in rows:
                    self._append(merkle.leaf_hash(bytes.fromhex(value)))
                    self._last_seq = seq
                if len(rows) < READ_BATCH:
                    return TreeView(self._levels, len(self))

    def _still_the_logs(self, session: Session) -> bool:
        table = table_of(DecisionRecord)
        value = session.execute(table.select().with_only_columns(table.c.hash).where(table.c.seq == self._last_seq)).scalar()
        return value is not None and merkle.leaf_hash(bytes.fromhex(value)) == _node(self._levels, 0, len(self) - 1)

    def _append(self, leaf: bytes) -> None:
        """Add a leaf and every complete subtree it completes."""
        level, index, node = 0, len(self), leaf
        while True:
            if len(self._levels) == level:
                self._levels.append(bytearray())
            self._levels[level] += node
            if index % 2 == 0:
                return
            node = merkle.node_hash(_node(self._levels, level, index - 1), node)
            level, index = level + 1, index // 2


def _node(levels: list[bytearray], level: int, index: int) -> bytes:
    return bytes(levels[level][index * HASH_BYTES:(index + 1) * HASH_BYTES])


def _range_root(levels: list[bytearray], low: int, high: int) -> bytes:
    """MTH of leaves [low, high): a kept subtree when the range is one, else split as RFC 6962 splits."""
    size = high - low
    if size <= 0:
        return merkle.EMPTY_ROOT
    if size & (size - 1) == 0 and low % size == 0:
        return _node(levels, size.bit_length() - 1, low // size)
    split = 1 << ((size - 1).bit_length() - 1)
    return merkle.node_hash(_range_root(levels, low, low + split), _range_root(levels, low + split, high))


class TreeView:
    """The kept tree at one size: the Subtrees that proofs and checkpoints read."""

    def __init__(self, levels: list[bytearray], size: int):
        self._levels, self._size = levels, size

    def __len__(self) -> int:
        return self._size

    def range_root(self, low: int, high: int) -> bytes:
        if not 0 <= low <= high <= self._size:
            raise merkle.ProofError(f"leaves {low} to {high} are not in a tree of {self._size} leaves")
        return _range_root(self._levels, low, high)

    def at(self, size: int) -> TreeView:
        """The tree of the first `size` leaves (an earlier checkpoint's)."""
        if not 0 <= size <= self._size:
            raise merkle.ProofError(f"no tree of {size} leaves in one of {self._size}")
        return TreeView(self._levels, size)
