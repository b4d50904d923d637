"""Evidence packs from the CLI and through a real service over loopback HTTP: compliance downloads a pack that
verifies with the public key, others are refused, an unknown submission is a 404, and a service with no
signing key refuses with a documented 503; the summary escapes hostile text and draws it in Latin-1."""

from __future__ import annotations

import io
import re
import zipfile

import httpx
import pytest
from sqlmodel import Session

from govern.audit.checkpoint import generate_key, load_public_key
from govern.audit.evidence.collect import Evidence
from govern.audit.evidence.layout import name_part, safe_name
from govern.audit.evidence.summary import latin1, summary_html, summary_pdf
from govern.audit.evidence.verify import verify_pack
from govern.db.database import create_db_engine
from govern.db.public import TokenCreate
from govern.records.tokens import create_token
from tests.api.test_api import example
from tests.live_service import running_service

pytestmark = pytest.mark.slow
ORIGIN = "govern.test/decision-log"


def tokens(database_url: str) -> dict[str, dict[str, str]]:
    db = create_db_engine(database_url)
    found = {}
    with Session(db) as session:
        for role, team in (("submitter", "platform-qa"), ("compliance", "compliance"), ("admin", "ops")):
            _, secret = create_token(session, TokenCreate(role=role, team=team, name=f"{role} <b>"))
            found[role] = {"Authorization": f"Bearer {secret}"}
        session.commit()
    db.dispose()
    return found


def test_compliance_downloads_a_pack_that_verifies_and_others_are_refused(database_url, tmp_path, cli, monkeypatch):
    key = tmp_path / "log.key"
    generate_key(key)
    env = {"GOVERN_AUDIT_SIGNING_KEY": str(key), "GOVERN_AUDIT_LOG_ORIGIN": ORIGIN, "GOVERN_LINEAGE_DELIVERY": "false"}
    with running_service(database_url, env=env) as url:
        headers = tokens(database_url)
        manifest, circuit = example("bell-local")
        created = httpx.post(f"{url}/v1/submissions", json={"manifest": manifest, "circuit": circuit}, headers=headers["submitter"], timeout=60)
        assert created.status_code == 201, created.text
        submission_id = created.json()["submission"]["id"]
        answer = httpx.get(f"{url}/v1/submissions/{submission_id}/evidence", headers=headers["compliance"], timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/zip" and "attachment" in answer.headers["content-disposition"]
        verified = verify_pack(answer.content, load_public_key(tmp_path / "log.key.pub"), ORIGIN)
        assert verified.submission_id == submission_id and verified.decisions == 1
        assert httpx.get(f"{url}/v1/submissions/{submission_id}/evidence", headers=headers["admin"], timeout=60).status_code == 200
        assert httpx.get(f"{url}/v1/submissions/{submission_id}/evidence", headers=headers["submitter"], timeout=60).status_code == 403
        assert httpx.get(f"{url}/v1/submissions/nothing/evidence", headers=headers["submitter"], timeout=60).status_code == 403
        missing = httpx.get(f"{url}/v1/submissions/nothing/evidence", headers=headers["compliance"], timeout=60)
        assert missing.status_code == 404 and "nothing" in missing.json()["detail"]
        assert httpx.get(f"{url}/v1/submissions/{submission_id}/evidence", timeout=60).status_code == 401

    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    monkeypatch.delenv("GOVERN_AUDIT_SIGNING_KEY", raising=False)
    out = tmp_path / "cli.zip"
    unsigned = cli("audit", "pack", submission_id, "--out", out)
    assert unsigned.exit_code == 2 and "GOVERN_AUDIT_SIGNING_KEY" in unsigned.output and not out.exists()
    monkeypatch.setenv("GOVERN_AUDIT_SIGNING_KEY", str(key))
    assert cli("audit", "pack", "no-such-submission", "--out", out).exit_code == 2 and not out.exists()
    assert cli("audit", "pack", submission_id, "--out", out).exit_code == 0
    checked = cli("audit", "verify-pack", out, "--public-key", tmp_path / "log.key.pub", "--origin", ORIGIN)
    assert checked.exit_code == 1 and "pack.sig" in checked.output  # packed under the default origin: asked for another
    assert cli("audit", "verify-pack", out, "--public-key", tmp_path / "log.key.pub").exit_code == 0
    assert cli("audit", "verify-pack", tmp_path / "absent.zip", "--public-key", tmp_path / "log.key.pub").exit_code == 2
    assert "summary.pdf" in zipfile.ZipFile(io.BytesIO(out.read_bytes())).namelist()


def test_a_service_without_a_signing_key_refuses_with_503(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'govern.db'}"
    with running_service(database_url, env={"GOVERN_LINEAGE_DELIVERY": "false"}) as url:
        headers = tokens(database_url)
        manifest, circuit = example("bell-local")
        created = httpx.post(f"{url}/v1/submissions", json={"manifest": manifest, "circuit": circuit}, headers=headers["submitter"], timeout=60)
        submission_id = created.json()["submission"]["id"]
        refused = httpx.get(f"{url}/v1/submissions/{submission_id}/evidence", headers=headers["compliance"], timeout=60)
        assert refused.status_code == 503 and "GOVERN_AUDIT_SIGNING_KEY" in refused.json()["detail"]
        document = httpx.get(f"{url}/openapi.json", timeout=60).json()
        responses = document["paths"]["/v1/submissions/{submission_id}/evidence"]["get"]["responses"]
        assert {"200", "403", "404", "503"} <= set(responses) and "application/zip" in responses["200"]["content"]


HOSTILE = '<script>alert("x")</script> Zoë — 量子'


def hostile_evidence() -> Evidence:
    submission = {"id": "s-1", "team": "qa", "name": HOSTILE, "created_by": "t-1", "decision_id": "d-1", "outcome": "denied",
                  "sandbox": None, "estimated_cost": "0", "currency": "USD", "circuit_sha256": "ab" * 32, "run_id": "r-1",
                  "created_at": "2026-01-01T00:00:00.000000+00:00"}
    return Evidence(submission=submission, manifest={"spec": {"backend": {"vendor": HOSTILE, "device": "d"}}}, circuit=None,
                    decisions=[], bundles={}, jobs=[], results=[], sandbox=None, emitted_events=[], received_events=[],
                    ledger=[{"kind": "charge", "amount": "1", "currency": "USD", "sandbox_id": "x", "note": HOSTILE}],
                    actors={"t-1": HOSTILE}, truncated=[HOSTILE])


def test_the_summary_escapes_hostile_text_and_draws_it_in_latin1():
    page = summary_html(hostile_evidence(), "2026-01-01T00:00:00.000000+00:00")
    assert "<script>" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page and "量子" in page
    pdf = summary_pdf(hostile_evidence(), "2026-01-01T00:00:00.000000+00:00")
    assert pdf.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf)) == 1  # one page
    assert latin1(HOSTILE) == '<script>alert("x")</script> Zoë - ??'
    assert latin1("Erdős") == "Erdos"


@pytest.mark.parametrize(("name", "safe"), [
    ("pack.json", True), ("bundles/sha256_ab/bundle/.manifest", True), ("bundles/r/custom/team/x.rego", True),
    ("../x", False), ("a/../b", False), ("/etc/passwd", False), ("a\\b", False), ("a//b", False), ("a b", False),
    (".", False), ("", False), ("x" * 600, False), ("naïve", False),
])
def test_member_names_are_plain_relative_paths(name, safe):
    assert safe_name(name) is safe


def test_a_revision_or_id_becomes_one_safe_part():
    assert name_part("sha256:ab/../c") == "sha256_ab_.._c" and safe_name(name_part("sha256:ab/../c"))
    assert safe_name(name_part("..")) and safe_name(name_part(".")) and safe_name(name_part(""))
