"""Signed notes as Go's golang.org/x/mod/sumdb/note writes them (its PeterNeumann vector), and checkpoints
(c2sp.org/tlog-checkpoint) signed and opened, refused once altered."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govern.audit.note import CheckpointNote, NoteError, open_note, sign_note, sign_text, verifier_key, verify_note

GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ORIGIN = "govern.example/decision-log"


def test_notes_match_gos_sumdb_note_byte_for_byte() -> None:
    key = Ed25519PrivateKey.from_private_bytes(GO_SEED)
    assert verifier_key("PeterNeumann", key.public_key()) == GO_VERIFIER_KEY
    assert sign_text(GO_TEXT, "PeterNeumann", key) == GO_NOTE
    assert verify_note(GO_NOTE, "PeterNeumann", key.public_key()) == GO_TEXT


def test_a_checkpoint_opens_with_the_trusted_key_only() -> None:
    key = Ed25519PrivateKey.generate()
    checkpoint = CheckpointNote(ORIGIN, 12, bytes(range(32)), ("chain-head abc",))
    note = sign_note(checkpoint, ORIGIN, key)
    assert note.startswith(f"{ORIGIN}\n12\n{base64.b64encode(bytes(range(32))).decode()}\nchain-head abc\n\n\u2014 {ORIGIN} ")
    assert open_note(note, ORIGIN, key.public_key()) == checkpoint
    with pytest.raises(NoteError, match="no signature by the trusted key"):
        open_note(note, ORIGIN, Ed25519PrivateKey.generate().public_key())
    cosigned = note + f"\u2014 witness.example {base64.b64encode(b'1234' + bytes(64)).decode()}\n"
    assert open_note(cosigned, ORIGIN, key.public_key()) == checkpoint


@pytest.mark.parametrize("position", range(0, 60, 7))
def test_an_altered_checkpoint_is_refused(position: int) -> None:
    key = Ed25519PrivateKey.generate()
    note = sign_note(CheckpointNote(ORIGIN, 7, bytes(32)), ORIGIN, key)
    altered = note[:position] + ("X" if note[position] != "X" else "Y") + note[position + 1:]
    with pytest.raises(NoteError):
        open_note(altered, ORIGIN, key.public_key())


@pytest.mark.parametrize("body", ["origin\n", "origin\n007\nAAAA\n", "origin\n1\nnot base64!\n", f"origin\n1\n{base64.b64encode(bytes(31)).decode()}\n"])
def test_malformed_checkpoints_are_refused(body: str) -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(NoteError, match="not a checkpoint"):
        open_note(sign_text(body, ORIGIN, key), ORIGIN, key.public_key())


def test_key_names_with_spaces_or_plus_signs_are_refused() -> None:
    with pytest.raises(NoteError):
        sign_note(CheckpointNote(ORIGIN, 1, bytes(32)), "a b", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError):
        verify_note(GO_NOTE, "a+b", Ed25519PrivateKey.generate().public_key())
