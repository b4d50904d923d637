"""Checkpoints of the decision log's Merkle tree as C2SP signed notes (`tlog-checkpoint`, `signed-note`).

A checkpoint's text is the log's origin, its tree size and its root hash (base64), one per line, then any
extension lines; a blank line; then one line per signature, `— NAME BASE64(KEY_HASH || SIGNATURE)`, where
the key hash is the first 4 bytes of SHA-256(NAME, 0x0A, 0x01, Ed25519 public key). That is the format
Go's `golang.org/x/mod/sumdb/note`, Sigsum, Trillian and the transparency-dev witnesses read, so a
checkpoint of govern's log can be checked with their tools. Written here because no maintained Python
package implements signed notes; the format is one page (c2sp.org/signed-note).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "
MAX_NOTE_BYTES = 65_536
MAX_SIGNATURES = 100
"""signed-note lets a verifier refuse a note with more signatures than this."""


class NoteError(Exception):
    """The note is malformed, or the trusted key did not sign it."""


class NoteRefused(NoteError):
    """A well-formed note the trusted key did not sign (altered, forged, another key), or of another log."""


@dataclass(frozen=True)
class CheckpointNote:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + _raw_public(key)).digest()[:4]


def verifier_key(name: str, key: Ed25519PublicKey) -> str:
    """The key as signed-note verifiers are given it: `NAME+KEYHASH+BASE64(0x01 || key)`."""
    return f"{name}+{key_hash(name, key).hex()}+{base64.b64encode(ED25519 + _raw_public(key)).decode()}"


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} is empty or holds a space or '+', which signed notes forbid")


def sign_note(checkpoint: CheckpointNote, name: str, key: Ed25519PrivateKey) -> str:
    """The checkpoint as a signed note, signed by `key` under `name` (the log's origin, by convention)."""
    _check_name(name)
    for line in (checkpoint.origin, *checkpoint.extensions):
        if not line or "\n" in line:
            raise NoteError("a checkpoint's origin and extension lines are non-empty single lines")
    return sign_text(checkpoint.body(), name, key)


def sign_text(body: str, name: str, key: Ed25519PrivateKey) -> str:
    """Any note text (non-empty lines, each ending in a newline), signed."""
    _check_name(name)
    signature = key_hash(name, key.public_key()) + key.sign(body.encode())
    return f"{body}\n{SIGNATURE_PREFIX}{name} {base64.b64encode(signature).decode()}\n"


def open_note(text: str, name: str, trusted: Ed25519PublicKey) -> CheckpointNote:
    """The checkpoint a note holds, once a signature by `trusted` under `name` (the log's origin) verifies and
    the checkpoint names that origin; NoteRefused when not, NoteError when it is no checkpoint."""
    checkpoint = parse_checkpoint(verify_note(text, name, trusted))
    if checkpoint.origin != name:
        raise NoteRefused(f"it is a checkpoint of the log {checkpoint.origin[:200]!r}, not of {name!r}")
    return checkpoint


def verify_note(text: str, name: str, trusted: Ed25519PublicKey) -> str:
    """The note's text, once a signature by `trusted` under `name` verifies; NoteError otherwise. Signatures
    by other keys are ignored, as signed-note says: a witness may have cosigned."""
    _check_name(name)
    if len(text.encode()) > MAX_NOTE_BYTES:
        raise NoteError(f"the note is over {MAX_NOTE_BYTES} bytes")
    body, separator, signatures = text.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures, or no final newline")
    body += "\n"
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has over {MAX_SIGNATURES} signatures")
    wanted = key_hash(name, trusted)
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line[:80]!r}")
        signer, _, encoded = line[len(SIGNATURE_PREFIX):].rpartition(" ")
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"signature of {signer!r} is not base64") from None
        if signer != name or signature[:4] != wanted:
            continue
        try:
            trusted.verify(signature[4:], body.encode())
        except InvalidSignature:
            raise NoteRefused("its signature does not verify: it was altered or forged") from None
        return body
    raise NoteRefused(f"no signature by the trusted key ({verifier_key(name, trusted)})")


def parse_checkpoint(body: str) -> CheckpointNote:
    """A tlog-checkpoint body: origin, decimal size, base64 root hash, then extension lines."""
    lines: Sequence[str] = body.split("\n")[:-1]
    if len(lines) < 3 or not lines[0]:
        raise NoteError("not a checkpoint: it needs an origin, a tree size and a root hash")
    origin, size_text, root_text, *extensions = lines
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"not a checkpoint: tree size {size_text[:40]!r} is not a decimal number")
    try:
        root_hash = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("not a checkpoint: the root hash is not base64") from None
    if len(root_hash) != 32:
        raise NoteError("not a checkpoint: the root hash is not a SHA-256 hash")
    return CheckpointNote(origin, int(size_text), root_hash, tuple(extensions))
