"""Verify an evidence pack offline, with the public key alone: no database, nothing extracted to disk.

In order: the zip is read within bounds (size, member count, names, stored sizes; UnreadablePack when it is
not a pack at all); pack.sig's signature over pack.json's SHA-256; every member against the signed index,
none missing and none extra; the zip's bytes against the one canonical zip of those members; then what the
members claim: each decision record's inclusion proof under the pack's signed checkpoint (its hash
recomputed from its columns), each bundle revision's files against the revision's digest, the circuit
against its recorded hash, each result against its hash. PackError names the member that failed and why.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from govern.audit import merkle
from govern.audit.evidence.layout import (
    CHECKPOINT,
    INDEX,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_PACK_BYTES,
    PACK_FORMAT,
    SIGNATURE,
    PackError,
    UnreadablePack,
    safe_name,
    signed_body,
    zip_bytes,
)
from govern.audit.note import SIGNATURE_PREFIX, NoteError, open_note, verify_note
from govern.audit.tree import check_proof
from govern.backends.checks import result_hash
from govern.policy.bundle import BundleError, BundleFile, rebuild_bundle

ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, ValueError,
              RuntimeError, OSError, KeyError, IndexError, struct.error, OverflowError, UnicodeError)


@dataclass(frozen=True)
class Verified:
    submission_id: str
    origin: str
    members: int
    decisions: int
    tree_size: int
    unkept_revisions: tuple[str, ...] = ()
    """Bundle revisions a decision was made on that the log's database never kept, so the pack cannot hold them."""


def read_members(data: bytes) -> dict[str, bytes]:
    """The zip's members in order, read within the pack's bounds; UnreadablePack when it is not one."""
    if len(data) > MAX_PACK_BYTES:
        raise UnreadablePack(f"the file is over {MAX_PACK_BYTES} bytes: not an evidence pack")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except ZIP_ERRORS as exc:
        raise UnreadablePack(f"not a zip file ({exc.__class__.__name__})") from None
    if len(infos) > MAX_MEMBERS:
        raise UnreadablePack(f"the zip holds {len(infos)} members, over the {MAX_MEMBERS} a pack may")
    total = 0
    for info in infos:
        if not safe_name(info.filename):
            raise UnreadablePack(f"member name {info.filename[:80]!r} is absolute, climbs out, or holds odd characters")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise UnreadablePack(f"member {info.filename} is compressed or encrypted: a pack's members are stored")
        if info.file_size != info.compress_size or info.file_size > MAX_MEMBER_BYTES:
            raise UnreadablePack(f"member {info.filename} declares {info.file_size} bytes: a stored member of at most {MAX_MEMBER_BYTES}")
        total += info.file_size
    if total > MAX_PACK_BYTES:
        raise UnreadablePack(f"the members declare {total} bytes in all, over {MAX_PACK_BYTES}")
    if len({info.filename for info in infos}) != len(infos):
        raise UnreadablePack("two members have the same name")
    members = {}
    for info in infos:
        try:
            content = archive.read(info)
        except ZIP_ERRORS as exc:
            raise PackError(info.filename, f"its bytes in the zip are damaged ({exc.__class__.__name__}: {exc})") from None
        if len(content) != info.file_size:
            raise PackError(info.filename, "its length is not the one the zip declares")
        members[info.filename] = content
    return members


def verify_pack(data: bytes, trusted: Ed25519PublicKey, origin: str | None = None) -> Verified:
    """Everything the module docstring lists; `origin` defaults to the one the pack's signed note names."""
    members = read_members(data)
    index, origin = _signed_index(members, trusted, origin)
    listed = _listed_members(index)
    for name, content in members.items():
        if name in (INDEX, SIGNATURE):
            continue
        if name not in listed:
            raise PackError(name, "it is in the zip but not in the signed index (added)")
        digest, size = listed[name]
        if len(content) != size or hashlib.sha256(content).hexdigest() != digest:
            raise PackError(name, "its SHA-256 is not the one the signed index lists (altered)")
    for name in listed:
        if name not in members:
            raise PackError(name, "the signed index lists it but the zip does not hold it (removed)")
    expected = zip_bytes([(INDEX, members[INDEX]), (SIGNATURE, members[SIGNATURE]), *((name, members[name]) for name in listed)])
    if expected != data:
        at = next((i for i, (a, b) in enumerate(zip(expected, data, strict=False)) if a != b), min(len(expected), len(data)))
        raise PackError("the zip file", f"its bytes differ from the canonical zip of its members at byte {at} (altered between members)")
    try:
        tree_size, revisions = _check_records(index, members, origin, trusted)
        unkept = _check_contents(index, members, revisions)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise PackError(INDEX, f"signed, yet what it lists is malformed ({exc.__class__.__name__}: {exc})") from None
    return Verified(str(index["submission_id"]), origin, len(members), len(revisions), tree_size, unkept)


def _signed_index(members: dict[str, bytes], trusted: Ed25519PublicKey, origin: str | None) -> tuple[dict[str, Any], str]:
    """pack.json, once pack.sig (signed by `trusted`) names its SHA-256."""
    for name in (INDEX, SIGNATURE):
        if name not in members:
            raise PackError(name, "missing: not an evidence pack")
    try:
        note = members[SIGNATURE].decode()
        body = note.split("\n\n")[0] + "\n"
        lines = body.split("\n")[:-1]
        if len(lines) != 4 or lines[0] != PACK_FORMAT:
            raise NoteError(f"its text is not a {PACK_FORMAT!r} note")
        origin = origin or lines[1]
        body = verify_note(note, origin, trusted)
        _canonical_signatures(note, body)
    except (UnicodeError, NoteError) as exc:
        raise PackError(SIGNATURE, f"not a valid signature of the pack: {exc}") from None
    index_sha256 = hashlib.sha256(members[INDEX]).hexdigest()
    if body != signed_body(origin, lines[2], index_sha256):
        raise PackError(INDEX, "its SHA-256 is not the one pack.sig signs (altered)")
    try:
        index = json.loads(members[INDEX])
    except (UnicodeError, ValueError) as exc:
        raise PackError(INDEX, f"signed, yet not JSON: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != PACK_FORMAT or index.get("origin") != origin \
            or index.get("submission_id") != lines[2]:
        raise PackError(INDEX, "signed, yet not an index of this pack's format, origin and submission")
    return index, origin


def _canonical_signatures(note: str, body: str) -> None:
    """Each signature line in the one encoding that signs: base64 decodes loosely, so a changed padding bit
    would otherwise leave a changed file verifying."""
    for line in note[len(body) + 1:-1].split("\n"):
        name, _, encoded = line[len(SIGNATURE_PREFIX):].rpartition(" ")
        try:
            canonical = base64.b64encode(base64.b64decode(encoded, validate=True)).decode()
        except (binascii.Error, ValueError):
            raise NoteError(f"the signature of {name!r} is not base64") from None
        if canonical != encoded:
            raise NoteError(f"the signature of {name!r} is not in canonical base64")


def _listed_members(index: dict[str, Any]) -> dict[str, tuple[str, int]]:
    try:
        listed = {m["name"]: (m["sha256"], m["size"]) for m in index["members"]}
        if len(listed) != len(index["members"]) or not all(isinstance(d, str) and isinstance(s, int) for d, s in listed.values()):
            raise ValueError("a member listed twice, or without a sha256 and size")
    except (KeyError, TypeError, ValueError) as exc:
        raise PackError(INDEX, f"signed, yet its member list is unreadable: {exc}") from None
    return listed


def _json(members: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(members[name])
    except KeyError:
        raise PackError(name, "the index refers to it, but the pack does not hold it") from None
    except (UnicodeError, ValueError) as exc:
        raise PackError(name, f"not JSON: {exc}") from None


def _check_records(index: dict[str, Any], members: dict[str, bytes], origin: str, trusted: Ed25519PublicKey) -> tuple[int, list[str]]:
    """Each decision's proof under the pack's checkpoint; the tree size it proves them in, and each decision's
    bundle revision."""
    try:
        note = members[CHECKPOINT].decode()
        checkpoint = open_note(note, origin, trusted)
    except KeyError:
        raise PackError(CHECKPOINT, "missing") from None
    except (UnicodeError, NoteError) as exc:
        raise PackError(CHECKPOINT, f"not a checkpoint signed by the trusted key: {exc}") from None
    revisions = []
    for entry in index["decisions"]:
        name = str(entry.get("member")) if isinstance(entry, dict) else "?"
        proof = _json(members, name)
        if not isinstance(proof, dict) or proof.get("checkpoint") != note:
            raise PackError(name, "its proof is not under the pack's checkpoint")
        try:
            check_proof(proof, origin, trusted)
        except (merkle.ProofError, NoteError) as exc:
            raise PackError(name, f"its inclusion proof fails: {exc}") from None
        if proof["record"].get("decision_id") != entry.get("decision_id"):
            raise PackError(name, "it proves a different decision than the index names")
        revisions.append(proof["record"]["bundle_revision"])
    return checkpoint.size, revisions


def _check_contents(index: dict[str, Any], members: dict[str, bytes], revisions: list[str]) -> tuple[str, ...]:
    """The bundle revisions against their digests, the circuit and the results against their hashes; returns
    the revisions the index says were never kept."""
    listed = {bundle["revision"]: bundle["member"] for bundle in index["bundles"]}
    for revision in revisions:
        if revision not in listed:
            raise PackError(INDEX, f"a decision was made on bundle revision {revision}, which the index does not list")
    for bundle in index["bundles"]:
        name = bundle["member"]
        if name is None:
            continue
        listing = _json(members, name)
        try:
            files = [BundleFile(f["kind"], f["name"], members[f["member"]], f["module_path"], f["origin"]) for f in listing["files"]]
            rebuild_bundle(bundle["revision"], files)
        except (KeyError, TypeError) as exc:
            raise PackError(name, f"it lists a file the pack does not hold, or is unreadable: {exc}") from None
        except (BundleError, ValueError, RuntimeError) as exc:
            raise PackError(name, f"its files are not bundle revision {bundle['revision']}: {exc}") from None
    submission = _json(members, "submission.json")
    if "circuit.qasm" in members and hashlib.sha256(members["circuit.qasm"]).hexdigest() != submission.get("circuit_sha256"):
        raise PackError("circuit.qasm", "its SHA-256 is not the circuit_sha256 the submission recorded")
    jobs = {job.get("id"): job for job in _json(members, "jobs.json")}
    for result in _json(members, "results.json"):
        job = jobs.get(result.get("job_id"), {})
        try:
            recomputed = result_hash(counts=result["counts"], device=result["device"], shots=job["shots"],
                                     seed_transpiler=job["seed_transpiler"], seed_simulator=job["seed_simulator"],
                                     calibration_snapshot_id=result["calibration_snapshot_id"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise PackError("results.json", f"a result or its job is unreadable: {exc}") from None
        if recomputed != result["result_hash"]:
            raise PackError("results.json", f"the result of job {result.get('job_id')} does not match its result_hash")
    return tuple(revision for revision, member in listed.items() if member is None)
