"""Signed-note checkpoints through the CLI, on SQLite and PostgreSQL: a truncation, a consistent rewrite and a
fork are caught; legacy JSON checkpoints and state files still verify; one checkpoint is shown to extend
another offline; one record is proven and the proof checked with the public key alone."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest
from sqlalchemy import delete, select, update

from govern.audit.checkpoint import Checkpoint, load_private_key, public_key_text
from govern.db.database import create_db_engine, upgrade
from tests.audit.test_audit_tamper import TABLE, fill, rehash_from

pytestmark = pytest.mark.slow


@pytest.fixture
def audited(cli, database_url, engine, example_inputs, monkeypatch, tmp_path):
    """A log of five records and a key pair; returns the database, a function signing a checkpoint into a
    file, and the public key."""
    db = create_db_engine(database_url)
    upgrade(db)
    fill(db, engine, example_inputs, 5)
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    key = tmp_path / "audit.pem"
    assert cli("audit", "keygen", key).exit_code == 0
    monkeypatch.setenv("GOVERN_AUDIT_SIGNING_KEY", str(key))

    def checkpoint(name: str):
        path = tmp_path / name
        result = cli("audit", "checkpoint", "--out", path)
        assert result.exit_code == 0, result.output
        return path

    yield db, checkpoint, tmp_path / "audit.pem.pub"
    db.dispose()


def rewrite(db, seq: int) -> None:
    """Change record `seq`'s actor, in its column and its content, and rehash from it: the chain verifies."""
    with db.begin() as connection:
        record = connection.execute(select(TABLE.c.record).where(TABLE.c.seq == seq)).scalar_one()
        actor = f'"actor":"token-{seq - 1}"'
        assert actor in record
        connection.execute(update(TABLE).where(TABLE.c.seq == seq).values(actor="token-x", record=record.replace(actor, '"actor":"token-x"')))
    rehash_from(db, seq)


def test_a_checkpoint_is_a_signed_note_of_the_tree(audited):
    _, checkpoint, _ = audited
    origin, size, root, blank, signature, end = checkpoint("cp.txt").read_text().split("\n")
    assert (origin, size, blank, end) == ("govern/decision-log", "5", "", "")
    assert len(base64.b64decode(root)) == 32 and signature.startswith("\u2014 govern/decision-log ")


def test_a_truncated_log_fails_its_note(cli, audited):
    db, checkpoint, public = audited
    cp = checkpoint("cp.txt")
    with db.begin() as connection:
        connection.execute(delete(TABLE).where(TABLE.c.seq >= 4))
    result = cli("audit", "verify", "--checkpoint", cp, "--public-key", public)
    assert result.exit_code == 1
    assert f"the log ends at record 3, checkpoint {cp} has 5: it was truncated (records 4 to 5 removed)" in result.output


def test_a_consistent_rewrite_fails_its_note_naming_how_far(cli, audited):
    db, checkpoint, public = audited
    cp = checkpoint("cp.txt")
    with db.begin() as connection:
        connection.execute(update(TABLE).where(TABLE.c.seq == 2).values(actor="token-x"))
    assert "record 2 was edited" in cli("audit", "verify", "--checkpoint", cp, "--public-key", public).output
    rewrite(db, 2)
    assert cli("audit", "verify").exit_code == 0
    result = cli("audit", "verify", "--checkpoint", cp, "--public-key", public)
    assert result.exit_code == 1
    assert f"record 5 differs from checkpoint {cp}: the log was rewritten within its first 5 records" in result.output


def test_a_fork_is_named(cli, audited, engine, example_inputs):
    db, checkpoint, public = audited
    before = checkpoint("before.txt")
    with db.begin() as connection:
        connection.execute(delete(TABLE))
    fill(db, engine, example_inputs, 5, start=10)  # another history of five records, signed by the same key
    after = checkpoint("after.txt")
    result = cli("audit", "verify", "--checkpoint", before, "--checkpoint", after, "--public-key", public)
    assert result.exit_code == 1
    assert f"checkpoint {after} contradicts checkpoint {before}: the first 5 records have two root hashes (the log forked)" in result.output
    forked = cli("audit", "consistency", before, after, "--public-key", public)
    assert forked.exit_code == 1 and "the log forked" in forked.output


def test_successive_notes_and_the_state_file(cli, audited, engine, example_inputs, tmp_path):
    db, checkpoint, public = audited
    old = checkpoint("old.txt")
    fill(db, engine, example_inputs, 2, start=5)
    new = checkpoint("new.txt")
    state = tmp_path / "state.json"
    accepted = cli("audit", "verify", "--checkpoint", old, "--checkpoint", new, "--public-key", public, "--state", state)
    assert accepted.exit_code == 0, accepted.output
    assert "2 records appended since the checkpoint" in accepted.output and "0 records appended" in accepted.output
    saved = json.loads(state.read_text())
    assert saved["records"] == 7 and len(saved["root_hash"]) == 64
    assert cli("audit", "verify", "--checkpoint", new, "--public-key", public, "--state", state).exit_code == 0

    refused = cli("audit", "verify", "--checkpoint", old, "--public-key", public, "--state", state)
    assert refused.exit_code == 1 and f"checkpoint {old} is older than the one accepted in {state}" in refused.output
    rewrite(db, 7)  # the head rewritten: the state's head hash and root both pin it
    result = cli("audit", "verify", "--state", state)
    assert result.exit_code == 1 and "record 7 differs from the accepted checkpoint in" in result.output


def test_legacy_json_checkpoints_and_state_files_still_verify(cli, audited, engine, example_inputs, tmp_path):
    db, checkpoint, public = audited
    key = load_private_key(tmp_path / "audit.pem")
    with db.connect() as connection:
        head = connection.execute(select(TABLE.c.hash).where(TABLE.c.seq == 5)).scalar_one()
    unsigned = Checkpoint(5, head, "2026-01-01T00:00:00+00:00", public_key_text(key.public_key()), "")
    legacy = tmp_path / "legacy.json"
    legacy.write_text(replace(unsigned, signature=base64.b64encode(key.sign(unsigned.signed_content())).decode()).to_json())
    old_state = tmp_path / "old-state.json"
    old_state.write_text(json.dumps({"records": 5, "head_hash": head, "created_at": "2026-01-01T00:00:00+00:00"}))
    fill(db, engine, example_inputs, 1, start=5)
    note = checkpoint("note.txt")
    result = cli("audit", "verify", "--checkpoint", legacy, "--checkpoint", note, "--public-key", public, "--state", old_state)
    assert result.exit_code == 0, result.output
    assert f"matches checkpoint {legacy} (5 records, signed 2026-01-01T00:00:00+00:00): 1 record appended" in result.output
    assert json.loads(old_state.read_text())["records"] == 6
    forged = tmp_path / "forged.json"
    forged.write_text(legacy.read_text().replace('"records": 5', '"records": 4'))
    assert cli("audit", "verify", "--checkpoint", forged, "--public-key", public).exit_code == 1


def test_consistency_offline_and_tampered(cli, audited, engine, example_inputs, tmp_path):
    db, checkpoint, public = audited
    old = checkpoint("old.txt")
    fill(db, engine, example_inputs, 6, start=5)
    new = checkpoint("new.txt")
    proof = tmp_path / "proof.json"
    assert cli("audit", "prove-consistency", 5, 11, "--out", proof).exit_code == 0
    document = json.loads(proof.read_text())
    assert (document["tree_size_1"], document["tree_size_2"]) == (5, 11) and document["consistency_proof"]
    db.dispose()
    ok = cli("audit", "consistency", old, new, "--public-key", public, "--proof", proof)
    assert ok.exit_code == 0 and f"checkpoint {new} (11 records) extends checkpoint {old} (5 records)" in ok.output
    assert cli("audit", "consistency", old, new, "--public-key", public).exit_code == 0  # the proof from the database

    first = document["consistency_proof"][0]
    document["consistency_proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    proof.write_text(json.dumps(document))
    tampered = cli("audit", "consistency", old, new, "--public-key", public, "--proof", proof)
    assert tampered.exit_code == 1 and "does not extend the older one" in tampered.output
    backwards = cli("audit", "consistency", new, old, "--public-key", public, "--proof", proof)
    assert backwards.exit_code == 1 and "give them oldest first" in backwards.output
    proof.write_text("[1, 2]")
    assert cli("audit", "consistency", old, new, "--public-key", public, "--proof", proof).exit_code == 2
    assert cli("audit", "prove-consistency", 5, 12).exit_code == 2  # the log has 11


def test_a_record_is_proven_through_the_cli_and_checked_offline(cli, audited, tmp_path, monkeypatch):
    db, _, public = audited
    with db.connect() as connection:
        decision_id = connection.execute(select(TABLE.c.decision_id).where(TABLE.c.seq == 3)).scalar_one()
    proof = tmp_path / "proof.json"
    made = cli("audit", "prove", decision_id, "--out", proof)
    assert made.exit_code == 0, made.output
    assert cli("audit", "prove", "no-such-decision").exit_code == 2
    monkeypatch.delenv("GOVERN_AUDIT_SIGNING_KEY")
    monkeypatch.setenv("GOVERN_DATABASE_URL", "sqlite:////nonexistent/no.db")  # offline: no database at all
    checked = cli("audit", "verify-proof", proof, "--public-key", public)
    assert checked.exit_code == 0, checked.output
    assert f"record 3 (decision {decision_id}) is in the log govern/decision-log of 5 records" in checked.output
    assert cli("audit", "verify-proof", proof, "--public-key", public, "--origin", "other/log").exit_code == 1

    text = proof.read_bytes()
    flipped = tmp_path / "flipped.json"
    for offset in (text.index(b'"outcome"') + 12, text.index(b'"inclusion_proof"') + 25, text.rindex(b"\\u2014") - 10):
        flipped.write_bytes(text[:offset] + bytes([text[offset] ^ 1]) + text[offset + 1:])
        result = cli("audit", "verify-proof", flipped, "--public-key", public)
        assert result.exit_code in (1, 2) and "Traceback" not in result.output, (offset, result.output)
    flipped.write_text(text.decode().replace('"leaf_index": 2', '"leaf_index": 1'))
    moved = cli("audit", "verify-proof", flipped, "--public-key", public)
    assert moved.exit_code == 1 and "leaf index" in moved.output
    for hostile in ("[" * 50_000, "{}", '{"record": {}, "checkpoint": "x", "leaf_index": 0, "tree_size": 1, "inclusion_proof": []}'):
        flipped.write_text(hostile)
        result = cli("audit", "verify-proof", flipped, "--public-key", public)
        assert result.exit_code == 2 and "error:" in result.output, (hostile[:20], result.output)
