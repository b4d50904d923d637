"""The Merkle tree's routes over real HTTP to a `govern serve` process, on SQLite and PostgreSQL: a record's
proof and two checkpoints with their consistency proof, each checked by `govern audit` in another process
that has no database and only the public key; a submitter refused, an unknown decision 404, no key 503."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.audit.checkpoint import generate_key
from govern.db.database import create_db_engine, session_scope
from govern.db.public import TokenCreate
from govern.records.tokens import create_token
from govern.settings import Settings
from tests.api.test_api import auth, example
from tests.live_service import running_service

pytestmark = pytest.mark.slow


def offline_audit(*args) -> subprocess.CompletedProcess[str]:
    """`govern audit ...` as an outside auditor runs it: no database, no signing key, no configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERN_")}
    env["GOVERN_DATABASE_URL"] = "sqlite:////nonexistent/govern.db"
    return subprocess.run([sys.executable, "-m", "govern", "audit", *map(str, args)], env=env, capture_output=True, text=True, timeout=120)


def test_proofs_from_the_service_verify_offline(database_url, tmp_path):
    key = tmp_path / "audit.pem"
    generate_key(key)
    public = tmp_path / "audit.pem.pub"
    with running_service(database_url, env={"GOVERN_AUDIT_SIGNING_KEY": str(key)}) as url:
        db = create_db_engine(database_url)
        with session_scope(db) as session:
            submitter = auth(create_token(session, TokenCreate(role="submitter", team="platform-qa", name="test"))[1])
            auditor = auth(create_token(session, TokenCreate(role="compliance", team="audit", name="test"))[1])
        db.dispose()
        with httpx.Client(base_url=url, timeout=60) as client:
            ids = []
            for name in ("bell-local", "unknown-backend"):
                manifest, circuit = example(name)
                ids.append(client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=submitter).json()["decision"]["decision_id"])
            old = client.get("/v1/audit/checkpoint", headers=auditor)
            assert old.status_code == 200 and old.headers["content-type"].startswith("text/plain")
            manifest, circuit = example("bell-local")
            client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=submitter)
            new = client.get("/v1/audit/checkpoint", headers=auditor).text
            consistency = client.get("/v1/audit/consistency", params={"from": 2, "to": 3}, headers=auditor)
            proof = client.get(f"/v1/audit/decisions/{ids[1]}/proof", headers=auditor)
            assert proof.status_code == 200, proof.text

            for path in (f"/v1/audit/decisions/{ids[1]}/proof", "/v1/audit/checkpoint", "/v1/audit/consistency?from=1&to=2"):
                assert client.get(path, headers=submitter).status_code == 403, path
            assert client.get("/v1/audit/decisions/no-such-decision/proof", headers=auditor).status_code == 404
            beyond = client.get("/v1/audit/consistency", params={"from": 2, "to": 9}, headers=auditor)
            assert beyond.status_code == 422 and "the log has 3 records" in beyond.json()["detail"]
            assert client.get("/v1/audit/consistency", params={"from": 3, "to": 2}, headers=auditor).status_code == 422

    assert proof.json()["leaf_index"] == 1 and proof.json()["tree_size"] == 3
    (tmp_path / "proof.json").write_text(proof.text)
    checked = offline_audit("verify-proof", tmp_path / "proof.json", "--public-key", public)
    assert checked.returncode == 0, checked.stderr
    assert f"record 2 (decision {ids[1]}) is in the log govern/decision-log of 3 records" in checked.stdout
    body = proof.text.encode()
    offset = body.index(b'"input_hash"') + 20
    (tmp_path / "flipped.json").write_bytes(body[:offset] + bytes([body[offset] ^ 1]) + body[offset + 1:])
    flipped = offline_audit("verify-proof", tmp_path / "flipped.json", "--public-key", public)
    assert flipped.returncode == 1 and "do not match its hash" in flipped.stderr and "Traceback" not in flipped.stderr

    (tmp_path / "old.txt").write_text(old.text)
    (tmp_path / "new.txt").write_text(new)
    (tmp_path / "consistency.json").write_text(consistency.text)
    extends = offline_audit("consistency", tmp_path / "old.txt", tmp_path / "new.txt", "--public-key", public, "--proof", tmp_path / "consistency.json")
    assert extends.returncode == 0, extends.stderr
    document = json.loads(consistency.text)
    document["consistency_proof"].reverse()
    document["consistency_proof"].append(document["consistency_proof"][0])
    (tmp_path / "consistency.json").write_text(json.dumps(document))
    tampered = offline_audit("consistency", tmp_path / "old.txt", tmp_path / "new.txt", "--public-key", public, "--proof", tmp_path / "consistency.json")
    assert tampered.returncode == 1 and "does not extend the older one" in tampered.stderr


def test_without_a_signing_key_the_routes_answer_503(database_url):
    app = create_app(Settings(database_url=database_url, migrate_on_start=True))
    with TestClient(app) as client:
        with session_scope(client.app.state.db) as session:
            auditor = auth(create_token(session, TokenCreate(role="compliance", team="audit", name="test"))[1])
        for path in ("/v1/audit/checkpoint", "/v1/audit/decisions/any/proof"):
            refused = client.get(path, headers=auditor)
            assert refused.status_code == 503 and "GOVERN_AUDIT_SIGNING_KEY" in refused.json()["detail"], path
        assert client.get("/v1/audit/consistency", params={"from": 0, "to": 0}, headers=auditor).json()["consistency_proof"] == []
