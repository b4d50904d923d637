"""The decision log as an RFC 6962 tree: a record proven under a signed checkpoint with no database, an
edited record or a forged checkpoint refused, and a later checkpoint shown to extend an earlier one."""

from __future__ import annotations

import copy

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govern.audit import merkle
from govern.audit.log import append
from govern.audit.note import NoteError, open_note
from govern.audit.tree import check_proof, log_leaves, prove, signed_checkpoint
from govern.db.database import create_db_engine, session_scope, upgrade

pytestmark = pytest.mark.slow
ORIGIN = "govern.test/decision-log"


def filled(database_url, engine_under_test, example_inputs, count):
    db = create_db_engine(database_url)
    upgrade(db)
    ids = []
    for index in range(count):
        _, policy_input = example_inputs[index % len(example_inputs)]
        decision = engine_under_test.evaluate(policy_input)
        with session_scope(db) as session:
            append(session, decision, policy_input, actor=f"token-{index}", kind="check")
        ids.append(decision.decision_id)
    return db, ids


def test_a_record_is_proven_under_a_signed_checkpoint_and_an_edit_is_refused(database_url, engine, example_inputs):
    db, ids = filled(database_url, engine, example_inputs, 5)
    key = Ed25519PrivateKey.generate()
    with session_scope(db) as session:
        proof = prove(session, ids[2], ORIGIN, key)
        assert prove(session, "no-such-decision", ORIGIN, key) is None
    db.dispose()
    assert proof is not None
    document = proof.to_json()
    checkpoint = check_proof(document, ORIGIN, key.public_key())
    assert (checkpoint.size, document["leaf_index"], document["record"]["seq"]) == (5, 2, 3)

    edited = copy.deepcopy(document)
    edited["record"]["outcome"] = "allowed" if edited["record"]["outcome"] != "allowed" else "denied"
    with pytest.raises(merkle.ProofError, match="do not match its hash"):
        check_proof(edited, ORIGIN, key.public_key())
    moved = {**document, "leaf_index": 1}
    with pytest.raises(merkle.ProofError):
        check_proof(moved, ORIGIN, key.public_key())
    with pytest.raises(NoteError):
        check_proof(document, ORIGIN, Ed25519PrivateKey.generate().public_key())


def test_a_later_checkpoint_extends_an_earlier_one(database_url, engine, example_inputs):
    db, _ = filled(database_url, engine, example_inputs, 3)
    key = Ed25519PrivateKey.generate()
    with session_scope(db) as session:
        old_note, _ = signed_checkpoint(session, ORIGIN, key)
    for index in range(4):
        _, policy_input = example_inputs[index % len(example_inputs)]
        with session_scope(db) as session:
            append(session, engine.evaluate(policy_input), policy_input, actor="later", kind="check")
    with session_scope(db) as session:
        new_note, tree = signed_checkpoint(session, ORIGIN, key)
        leaves = log_leaves(session)
        assert log_leaves(session, 3) == leaves[:3] and tree.range_root(0, 7) == merkle.root(leaves)
    db.dispose()
    old, new = open_note(old_note, ORIGIN, key.public_key()), open_note(new_note, ORIGIN, key.public_key())
    assert (old.size, new.size) == (3, 7)
    proof = merkle.consistency_proof(old.size, leaves)
    merkle.verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(old.size, new.size, proof, merkle.root(leaves[:2]), new.root_hash)
