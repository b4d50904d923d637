"""Signed checkpoints of the decision log's head, to anchor it outside the database.

Someone able to rewrite the whole table could rebuild a consistent chain; a checkpoint kept elsewhere
(signed with Ed25519, key from configuration) pins the hash the log had at a given length, so such a
rewrite, or a truncation, no longer verifies.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session

from govern.canonical import canonical_json
from govern.models import DecisionRecord


class CheckpointError(Exception):
    """The checkpoint is unreadable, badly signed, or no longer matches the log."""


def generate_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, readable by its owner only); return the public key (base64)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(pem)
    return public_key_text(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read the signing key {path}: {exc.__class__.__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} is not an Ed25519 private key")
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


@dataclass(frozen=True)
class Checkpoint:
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
            return cls(**{k: data[k] for k in ("records", "head_hash", "created_at", "public_key", "signature")})
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"not a checkpoint: {exc.__class__.__name__}") from None


def sign(key: Ed25519PrivateKey, records: int, head_hash: str) -> Checkpoint:
    created_at = datetime.now(timezone.utc).isoformat()
    unsigned = Checkpoint(records, head_hash, created_at, public_key_text(key.public_key()), "")
    signature = base64.b64encode(key.sign(unsigned.signed_content())).decode()
    return Checkpoint(records, head_hash, created_at, unsigned.public_key, signature)


def check_against_log(session: Session, checkpoint: Checkpoint, trusted_public_key: str) -> None:
    """Raise CheckpointError unless the checkpoint is signed by the trusted key and the log still has its head."""
    if checkpoint.public_key != trusted_public_key:
        raise CheckpointError("the checkpoint was signed by another key than the configured one")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(trusted_public_key))
        key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_content())
    except (InvalidSignature, ValueError):
        raise CheckpointError("the checkpoint's signature does not verify") from None
    if checkpoint.records == 0:
        return
    row = session.get(DecisionRecord, checkpoint.records)
    if row is None:
        raise CheckpointError(f"the log no longer has record {checkpoint.records}: it was truncated")
    if row.hash != checkpoint.head_hash:
        raise CheckpointError(f"record {checkpoint.records} differs from the checkpoint: the log was rewritten")
