"""The audit keys, the legacy JSON checkpoints of the decision log's head, and the auditor's state.

Someone able to rewrite the whole table could rebuild a consistent chain; a checkpoint kept elsewhere
(signed with Ed25519, key from configuration) pins the log at a given length, so such a rewrite, or a
truncation, no longer verifies. Checkpoints are now signed notes of the log's Merkle tree
(govern.audit.note, govern.audit.tree); the JSON ones written before, which pin the head record's hash, keep
verifying. Verifying needs only the public key (`PATH.pub` beside the private key), so whoever verifies
cannot forge. The auditor's state file remembers the newest checkpoint accepted, so an older one (presented
after the log was cut back to it) is refused.
"""

from __future__ import annotations

import base64
import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from govern.canonical import canonical_json

MAX_FILE_BYTES = 65_536
"""Checkpoints, keys and state files are a few hundred bytes: anything far larger is not one."""


class CheckpointError(Exception):
    """The checkpoint is unreadable, badly signed, or no longer matches the log."""


def public_key_path(private_key: Path) -> Path:
    return private_key.with_name(private_key.name + ".pub")


def generate_key(path: Path) -> str:
    """Write a new Ed25519 private key at `path` (PEM, readable by its owner only) and its public key at
    `path.pub` (PEM); return the public key (base64). Neither file may exist already."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pub_path = public_key_path(path)
    if pub_path.exists():
        raise FileExistsError(errno.EEXIST, "exists", str(pub_path))
    _write_new(path, private, 0o600)
    _write_new(pub_path, public, 0o644)
    return public_key_text(key.public_key())


def _write_new(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def read_small(path: Path, what: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes, refused unread beyond `limit`: an auditor's input is hostile until bounded."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise CheckpointError(f"cannot read the {what} {path}: {exc.strerror or exc.__class__.__name__}") from None
    if len(data) > limit:
        raise CheckpointError(f"{path} is over {limit} bytes: not a {what}")
    return data


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(read_small(path, "signing key"), password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot read the signing key {path}: {exc.__class__.__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key (PEM, as `govern audit keygen` writes it at PATH.pub)."""
    try:
        key = serialization.load_pem_public_key(read_small(path, "public key"))
    except (ValueError, TypeError):
        raise CheckpointError(f"{path} is not a PEM public key (give the .pub file `govern audit keygen` wrote)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path} is not an Ed25519 public key")
    return key


def is_sha256_hex(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as `govern audit checkpoint` wrote them before signed notes: the head record's hash."""

    records: int
    head_hash: str
    created_at: str
    public_key: str
    signature: str

    def signed_content(self) -> bytes:
        return canonical_json({"records": self.records, "head_hash": self.head_hash, "created_at": self.created_at})

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        try:
            data: dict[str, Any] = json.loads(text)
            checkpoint = cls(**{k: data[k] for k in ("records", "head_hash", "created_at", "public_key", "signature")})
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise CheckpointError(f"not a checkpoint: {exc.__class__.__name__}") from None
        if not isinstance(checkpoint.records, int) or isinstance(checkpoint.records, bool) or checkpoint.records < 0:
            raise CheckpointError("not a checkpoint: records is not a count")
        if not all(isinstance(v, str) for v in (checkpoint.head_hash, checkpoint.created_at, checkpoint.public_key, checkpoint.signature)):
            raise CheckpointError("not a checkpoint: head_hash, created_at, public_key and signature are text")
        return checkpoint

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        try:
            return cls.from_json(read_small(path, "checkpoint").decode())
        except UnicodeDecodeError:
            raise CheckpointError(f"{path} is not a checkpoint: not UTF-8") from None

    def check_signature(self, trusted: Ed25519PublicKey) -> None:
        """Raise CheckpointError unless the trusted key signed this checkpoint."""
        if self.public_key != public_key_text(trusted):
            raise CheckpointError("it was signed by another key than the trusted public key")
        try:
            trusted.verify(base64.b64decode(self.signature, validate=True), self.signed_content())
        except (InvalidSignature, ValueError):
            raise CheckpointError("its signature does not verify: it was altered or forged") from None


@dataclass(frozen=True)
class AuditorState:
    """The newest checkpoint an auditor accepted (kept by the auditor, not the service): its tree size, the
    head record's hash and the tree's root hash (hex; empty in state files written before signed notes)."""

    records: int
    head_hash: str
    created_at: str
    root_hash: str = ""

    @classmethod
    def load(cls, path: Path) -> AuditorState | None:
        """The state, or None when the file does not exist yet (the first verification creates it)."""
        if not path.exists():
            return None
        try:
            data = json.loads(read_small(path, "state file"))
            state = cls(int(data["records"]), str(data["head_hash"]), str(data["created_at"]), str(data.get("root_hash", "")))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise CheckpointError(f"{path} is not a state file: {exc.__class__.__name__}") from None
        if state.records < 0:
            raise CheckpointError(f"{path} is not a state file: records is negative")
        if state.root_hash and not is_sha256_hex(state.root_hash):
            raise CheckpointError(f"{path} is not a state file: root_hash is not a SHA-256 hash in hex")
        return state

    def save(self, path: Path) -> None:
        """Replace the file atomically: a crash leaves the old state or the new one, never half of either."""
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self.__dict__, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
