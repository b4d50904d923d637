"""The tree a service process keeps: the same roots and proofs as the tree read whole, at every size,
brought up to date by the records appended since, and started again when the log is not the one it kept."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from govern.audit import merkle
from govern.audit.kept_tree import KeptTree, TreeView
from govern.audit.log import append
from govern.audit.tree import log_leaves
from govern.db.database import session_scope
from govern.db.tables import DecisionRecord
from tests.audit.test_tree import filled


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.randoms(use_true_random=False))
def test_every_root_and_proof_is_the_whole_trees(size, rng: random.Random):
    kept, leaves = KeptTree(), [merkle.leaf_hash(rng.randbytes(32)) for _ in range(size)]
    for leaf in leaves:
        kept._append(leaf)
    view = TreeView(kept._levels, size)
    assert view.range_root(0, size) == merkle.root(leaves)
    for index in range(size):
        assert merkle.inclusion_proof(index, view) == merkle.inclusion_proof(index, leaves)
    for old in range(1, size + 1):
        assert merkle.consistency_proof(old, view) == merkle.consistency_proof(old, leaves)
        assert view.at(old).range_root(0, old) == merkle.root(leaves[:old])
    with pytest.raises(merkle.ProofError):
        view.range_root(0, size + 1)


@pytest.mark.slow
def test_the_kept_tree_follows_the_log_and_starts_again_when_it_changes(database_url, engine, example_inputs):
    db, _ = filled(database_url, engine, example_inputs, 4)
    kept = KeptTree()
    with session_scope(db) as session:
        first = kept.synced(session)
        assert (len(first), first.range_root(0, 4)) == (4, merkle.root(log_leaves(session)))
    _, policy_input = example_inputs[0]
    with session_scope(db) as session:
        append(session, engine.evaluate(policy_input), policy_input, actor="later", kind="check")
    with session_scope(db) as session:
        later = kept.synced(session)
        assert (len(later), later.range_root(0, 5)) == (5, merkle.root(log_leaves(session)))
        assert len(first) == 4 and first.range_root(0, 4) == later.range_root(0, 4)  # a view keeps its size
    with session_scope(db) as session:  # the tail rewritten: the kept tree is no longer the log's
        session.execute(update(DecisionRecord).where(DecisionRecord.seq == 5).values(hash="ab" * 32))
    with session_scope(db) as session:
        assert kept.synced(session).range_root(0, 5) == merkle.root(log_leaves(session))
    with session_scope(db) as session:  # truncated
        session.execute(delete(DecisionRecord).where(DecisionRecord.seq >= 4))
    with session_scope(db) as session:
        assert len(kept.synced(session)) == 3
    db.dispose()
