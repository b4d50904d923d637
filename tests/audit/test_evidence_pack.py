"""Evidence packs on SQLite and PostgreSQL: a submission that ran on a billed sandbox, packed with its proofs,
verifies in a process with no database and only the public key; a byte changed in any member, or anywhere in
the zip, fails verification (naming the member where it lies in one), and hostile zips are refused cleanly."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlmodel import Session

from govern.api import create_app
from govern.audit.checkpoint import generate_key
from govern.audit.evidence.layout import INDEX, SIGNATURE, PackError, UnreadablePack, signed_body, zip_bytes
from govern.audit.evidence.pack import build_pack, json_member
from govern.audit.evidence.verify import read_members, verify_pack
from govern.audit.note import CheckpointNote, sign_note, sign_text
from govern.settings import Settings
from tests.admission.test_submissions_api import funded, vqe_body
from tests.dispatch.test_dispatch import submit, worker

pytestmark = pytest.mark.slow
ORIGIN = "govern.test/decision-log"
OUTSIDER = """
unzip -p pack.zip pack.sig > pack.sig
head -n 4 pack.sig > body.txt
tail -n 1 pack.sig | awk '{print $NF}' | base64 -d | tail -c 64 > sig.bin
openssl pkeyutl -verify -pubin -inkey log.key.pub -rawin -in body.txt -sigfile sig.bin
test "sha256:$(unzip -p pack.zip pack.json | sha256sum | cut -d' ' -f1)" = "$(sed -n 4p body.txt)"
"""


@pytest.fixture
def ran(database_url):
    """A submission that ran on a funded IBM sandbox and was reproduced (jobs, results, ledger, lineage, two
    decisions), and a denied one."""
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        submitter = funded(client, "10.00")  # a run of 4.80 USD and its reproduction fit, a third run does not
        allowed = submit(client, submitter, vqe_body())
        worker(client).run_until_idle()
        assert client.post(f"/v1/submissions/{allowed}/reproduce", headers=submitter).status_code == 202
        worker(client).run_until_idle()
        denied = client.post("/v1/submissions", json=vqe_body(), headers=submitter)
        assert denied.status_code == 403
        yield client, allowed, denied.json()["submission"]["id"]


def offline_env(tmp_path) -> dict[str, str]:
    """An environment with no database a process could reach, and no data directory of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERN_")}
    return {**env, "HOME": str(tmp_path), "GOVERN_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"}


def verify_offline(path, public_key, tmp_path, *extra) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "govern", "audit", "verify-pack", str(path), "--public-key", str(public_key), *extra],
                          capture_output=True, text=True, env=offline_env(tmp_path), timeout=120)


def build_pack_at(client, submission_id: str, key: Ed25519PrivateKey, now: str) -> bytes | None:
    with Session(client.app.state.db) as session:
        return build_pack(session, submission_id, ORIGIN, key, datetime.fromisoformat(now))


def members_of(data: bytes) -> list[tuple[str, bytes]]:
    return list(read_members(data).items())


def test_a_pack_verifies_offline_and_a_changed_byte_in_any_member_names_it(ran, tmp_path):
    client, allowed, _ = ran
    key_path = tmp_path / "log.key"
    generate_key(key_path)
    from govern.audit.checkpoint import load_private_key

    key = load_private_key(key_path)
    with Session(client.app.state.db) as session:
        data = build_pack(session, allowed, ORIGIN, key)
    pack = tmp_path / "pack.zip"
    pack.write_bytes(data)

    verified = verify_offline(pack, tmp_path / "log.key.pub", tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"pack verifies: submission {allowed}") and ORIGIN in verified.stdout
    if shutil.which("openssl") and shutil.which("unzip"):  # docs/audit.md's steps for an outsider without govern
        outsider = subprocess.run(["bash", "-euc", OUTSIDER], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert outsider.returncode == 0 and "Signature Verified Successfully" in outsider.stdout, outsider.stderr

    members = members_of(data)
    names = [name for name, _ in members]
    assert names[:2] == [INDEX, SIGNATURE]
    for wanted in ("summary.html", "summary.pdf", "manifest.json", "circuit.qasm", "checkpoint.txt", "jobs.json", "results.json",
                   "ledger.json", "sandbox.json", "lineage/emitted.jsonl"):
        assert wanted in names
    assert any(n.startswith("decisions/") for n in names) and any(n.endswith("/files.json") for n in names)
    content = dict(members)
    ledger = json.loads(content["ledger.json"])
    assert [(e["kind"], e["amount"]) for e in ledger] == [("reserve", "4.80"), ("release", "-4.80"), ("charge", "4.80")] * 2
    index = json.loads(content[INDEX])
    assert len(index["decisions"]) == 2 and index["truncated"] == []
    kinds = [json.loads(content[d["member"]])["record"]["kind"] for d in index["decisions"]]
    assert kinds == ["submission", "reproduce"]
    assert [job["kind"] for job in json.loads(content["jobs.json"])] == ["primary", "reproduction"]
    assert len(json.loads(content["results.json"])) == 2
    assert json.loads(content["sandbox.json"])["approved_by"]
    assert "credentials" not in content["jobs.json"].decode()

    for position, (name, member) in enumerate(members):
        for flip in (0x01, 0xFF):
            changed = bytearray(member or b"\x00")
            changed[len(changed) // 2] ^= flip
            rebuilt = zip_bytes([*members[:position], (name, bytes(changed)), *members[position + 1:]])
            with pytest.raises(PackError) as failure:
                verify_pack(rebuilt, key.public_key(), ORIGIN)
            assert failure.value.member == name, (name, str(failure.value))

    tampered = tmp_path / "tampered.zip"
    position = names.index("ledger.json")
    changed = bytearray(members[position][1])
    changed[10] ^= 0x04
    tampered.write_bytes(zip_bytes([*members[:position], ("ledger.json", bytes(changed)), *members[position + 1:]]))
    refused = verify_offline(tampered, tmp_path / "log.key.pub", tmp_path)
    assert refused.returncode == 1 and "ledger.json" in refused.stderr and "Traceback" not in refused.stderr

    stranger = tmp_path / "stranger.key"
    generate_key(stranger)
    forged = verify_offline(pack, tmp_path / "stranger.key.pub", tmp_path)
    assert forged.returncode == 1 and SIGNATURE in forged.stderr


def test_a_changed_byte_anywhere_in_the_zip_fails_and_never_with_a_traceback(ran, tmp_path):
    client, allowed, _ = ran
    key = Ed25519PrivateKey.generate()
    with Session(client.app.state.db) as session:
        data = build_pack(session, allowed, ORIGIN, key)
    again = build_pack_at(client, allowed, key, "2026-06-01T00:00:00+00:00")
    assert again == build_pack_at(client, allowed, key, "2026-06-01T00:00:00+00:00")  # the same evidence, the same bytes
    offsets = sorted({*range(0, len(data), max(1, len(data) // 400)), *range(max(0, len(data) - 8000), len(data), 3)})
    for offset in offsets:
        changed = bytearray(data)
        changed[offset] ^= 0x20
        with pytest.raises((PackError, UnreadablePack)):
            verify_pack(bytes(changed), key.public_key(), ORIGIN)
    key_path = tmp_path / "log.key"
    generate_key(key_path)
    for offset in (0, len(data) // 3, len(data) - 30):
        changed = bytearray(data)
        changed[offset] ^= 0x20
        (tmp_path / "flipped.zip").write_bytes(bytes(changed))
        result = verify_offline(tmp_path / "flipped.zip", tmp_path / "log.key.pub", tmp_path)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_denied_submission_packs_its_decision_and_verifies(ran):
    client, _, denied = ran
    key = Ed25519PrivateKey.generate()
    with Session(client.app.state.db) as session:
        data = build_pack(session, denied, ORIGIN, key)
        assert build_pack(session, "no-such-submission", ORIGIN, key) is None
    verified = verify_pack(data, key.public_key())
    assert (verified.submission_id, verified.decisions, verified.tree_size) == (denied, 1, 3)
    content = read_members(data)
    (decision,) = [json.loads(v) for k, v in content.items() if k.startswith("decisions/")]
    assert decision["record"]["outcome"] == "denied" and decision["leaf_index"] == 2
    assert json.loads(content["jobs.json"]) == [] and json.loads(content["results.json"]) == []
    assert b"PR-005" in content["summary.html"]
    with pytest.raises(PackError) as failure:
        verify_pack(data, key.public_key(), "another.test/log")
    assert failure.value.member == SIGNATURE


def resigned(data: bytes, key: Ed25519PrivateKey, changes: dict[str, bytes]) -> bytes:
    """The pack with members replaced and its index and signature made again by the log's own key: what
    only the key's holder could do, which still may not pass off an edited record, bundle, circuit or result."""
    members = dict(read_members(data)) | changes
    index = json.loads(members.pop(INDEX))
    members.pop(SIGNATURE)
    index["members"] = [{"name": n, "sha256": hashlib.sha256(c).hexdigest(), "size": len(c)} for n, c in members.items()]
    index_bytes = json_member(index)
    note = sign_text(signed_body(ORIGIN, index["submission_id"], hashlib.sha256(index_bytes).hexdigest()), ORIGIN, key)
    return zip_bytes([(INDEX, index_bytes), (SIGNATURE, note.encode()), *members.items()])


def test_a_pack_resigned_with_edited_contents_is_still_refused(ran):
    client, allowed, _ = ran
    key = Ed25519PrivateKey.generate()
    with Session(client.app.state.db) as session:
        data = build_pack(session, allowed, ORIGIN, key)
    content = read_members(data)
    assert verify_pack(resigned(data, key, {}), key.public_key()).decisions == 2
    decision = next(n for n in content if n.startswith("decisions/"))
    record = json.loads(content[decision])
    record["record"]["outcome"] = "denied"
    rego = next(n for n in content if n.endswith("/main.rego"))
    results = json.loads(content["results.json"])
    results[0]["counts"] = {"0000": results[0]["counts"].pop("0000") + 1, **results[0]["counts"]}
    stranger = Ed25519PrivateKey.generate()
    cases = {
        decision: (json_member(record), "do not match its hash"),
        rego: (content[rego] + b"\n# edited\n", "are not bundle revision"),
        "circuit.qasm": (content["circuit.qasm"] + b"// edited\n", "circuit_sha256"),
        "results.json": (json_member(results), "does not match its result_hash"),
        "checkpoint.txt": (sign_note(CheckpointNote(ORIGIN, 5, b"\x00" * 32), ORIGIN, stranger).encode(), "not a checkpoint signed"),
    }
    for name, (changed, why) in cases.items():
        with pytest.raises(PackError, match=why) as failure:
            verify_pack(resigned(data, key, {name: changed}), key.public_key())
        assert failure.value.member in (name, next(n for n in content if n.endswith("files.json"))), str(failure.value)


def zipped(entries, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize("hostile", [
    b"", b"not a zip at all", b"PK\x05\x06" + b"\x00" * 18,
    zipped([("big", b"\x00" * (80 * 1024 * 1024))], zipfile.ZIP_DEFLATED),
    zipped([("../../etc/passwd", b"x")]),
    zipped([("/abs", b"x")]),
    zipped([("a\\b", b"x")]),
    zipped([(f"m{i}", b"") for i in range(10_001)]),
], ids=["empty", "text", "empty-zip-directory", "zip-bomb", "climbing-name", "absolute-name", "backslash", "too-many-members"])
def test_garbage_and_hostile_zips_are_refused_as_unreadable(hostile, tmp_path):
    key = Ed25519PrivateKey.generate()
    with pytest.raises((UnreadablePack, PackError)):
        verify_pack(hostile, key.public_key())
    if hostile[:2] != b"PK" or len(hostile) < 200:
        key_path = tmp_path / "log.key"
        generate_key(key_path)
        (tmp_path / "hostile.zip").write_bytes(hostile)
        result = verify_offline(tmp_path / "hostile.zip", tmp_path / "log.key.pub", tmp_path)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    with pytest.raises(UnreadablePack, match="compressed"):
        read_members(zipped([("big", b"\x00" * (80 * 1024 * 1024))], zipfile.ZIP_DEFLATED))
