"""Write one submission's evidence pack: a canonical zip (govern.audit.evidence.layout) of everything
collected about it, each decision's record with its inclusion proof under ONE checkpoint signed for the
pack, the bundle revisions' files, a one-page summary, and `pack.json`, the index of every member's SHA-256
and size, whose own SHA-256 `pack.sig` signs as a C2SP signed note with the log's Ed25519 key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from govern.audit import merkle
from govern.audit.evidence.collect import Evidence, collect
from govern.audit.evidence.layout import (
    CHECKPOINT,
    INDEX,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_PACK_BYTES,
    PACK_FORMAT,
    SIGNATURE,
    name_part,
    safe_name,
    signed_body,
    zip_bytes,
)
from govern.audit.evidence.summary import summary_html, summary_pdf
from govern.audit.kept_tree import KeptTree
from govern.audit.note import parse_checkpoint, sign_text
from govern.audit.record_format import utc_text
from govern.audit.tree import RecordProof, record_columns, signed_checkpoint


class PackTooLarge(Exception):
    """The pack would exceed what a verifier accepts (layout's bounds), so it is not written."""


def json_member(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode()


def jsonl_member(texts: list[str]) -> bytes:
    return "".join(text + "\n" for text in texts).encode()


def build_pack(
    session: Session, submission_id: str, origin: str, key: Ed25519PrivateKey, now: datetime | None = None,
    kept: KeptTree | None = None,
) -> bytes | None:
    """The pack's bytes; None when no submission has that id. Raises PackTooLarge past the layout's bounds."""
    evidence = collect(session, submission_id)
    if evidence is None:
        return None
    note, leaves = signed_checkpoint(session, origin, key, kept)
    created_at = utc_text(now or datetime.now(UTC))
    members, decisions, bundles = _members(evidence, note, leaves, created_at)
    checkpoint = parse_checkpoint(note.split("\n\n")[0] + "\n")
    index = {
        "format": PACK_FORMAT,
        "origin": origin,
        "submission_id": submission_id,
        "created_at": created_at,
        "checkpoint": {"member": CHECKPOINT, "tree_size": checkpoint.size, "root_hash": checkpoint.root_hash.hex()},
        "decisions": decisions,
        "bundles": bundles,
        "truncated": evidence.truncated,
        "members": [{"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in members],
    }
    index_bytes = json_member(index)
    signature = sign_text(signed_body(origin, submission_id, hashlib.sha256(index_bytes).hexdigest()), origin, key)
    everything = [(INDEX, index_bytes), (SIGNATURE, signature.encode()), *members]
    _check_bounds(everything)
    return zip_bytes(everything)


def _members(
    evidence: Evidence, note: str, leaves: merkle.Subtrees, created_at: str
) -> tuple[list[tuple[str, bytes]], list[dict[str, str]], list[dict[str, Any]]]:
    members: list[tuple[str, bytes]] = [
        ("summary.html", summary_html(evidence, created_at).encode()),
        ("summary.pdf", summary_pdf(evidence, created_at)),
        ("submission.json", json_member({**evidence.submission, "actor_names": evidence.actors})),
        ("manifest.json", json_member(evidence.manifest)),
    ]
    if evidence.circuit is not None:
        members.append(("circuit.qasm", evidence.circuit.encode()))
    members.append((CHECKPOINT, note.encode()))
    decisions = []
    for row in evidence.decisions:
        proof = RecordProof(record_columns(row), row.seq - 1, len(leaves),
                            [h.hex() for h in merkle.inclusion_proof(row.seq - 1, leaves)], note)
        name = f"decisions/{row.seq:012d}-{name_part(row.decision_id)}.json"
        members.append((name, json_member(proof.to_json())))
        decisions.append({"decision_id": row.decision_id, "member": name})
    bundles = []
    for position, (revision, files) in enumerate(evidence.bundles.items()):
        folder = f"bundles/{name_part(revision)}" + ("" if position == 0 else f"-{position}")
        bundles.append({"revision": revision, "member": f"{folder}/files.json" if files else None})
        members.extend(_bundle_members(folder, revision, files))
    members += [
        ("jobs.json", json_member(evidence.jobs)),
        ("results.json", json_member(evidence.results)),
        ("ledger.json", json_member(evidence.ledger)),
        ("sandbox.json", json_member(evidence.sandbox)),
        ("lineage/emitted.jsonl", jsonl_member(evidence.emitted_events)),
        ("lineage/received.jsonl", jsonl_member(evidence.received_events)),
    ]
    return members, decisions, bundles


def _bundle_members(folder: str, revision: str, files: list[Any]) -> Iterator[tuple[str, bytes]]:
    """The revision's files under `folder`, named by kind and path (a path unfit for a zip by its position),
    and files.json, what rebuild_bundle needs beyond their content."""
    listed = []
    for position, file in enumerate(files):
        wanted = f"{folder}/{file.kind}/{file.name}"
        member = wanted if safe_name(wanted) and file.kind in ("bundle", "custom") else f"{folder}/renamed/{position}"
        listed.append({"kind": file.kind, "name": file.name, "module_path": file.module_path, "origin": file.origin,
                       "member": member})
        yield member, file.content
    if files:
        yield f"{folder}/files.json", json_member({"revision": revision, "files": listed})


def _check_bounds(members: list[tuple[str, bytes]]) -> None:
    names = [name for name, _ in members]
    if len(set(names)) != len(names):
        raise PackTooLarge("two members of the pack would have the same name")
    if len(members) > MAX_MEMBERS:
        raise PackTooLarge(f"the pack would hold {len(members)} files, over the {MAX_MEMBERS} a verifier accepts")
    largest = max(len(data) for _, data in members)
    if largest > MAX_MEMBER_BYTES or sum(len(data) for _, data in members) > MAX_PACK_BYTES:
        raise PackTooLarge(f"the pack would be over {MAX_PACK_BYTES} bytes, or a file in it over {MAX_MEMBER_BYTES}")
