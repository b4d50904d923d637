"""Replaying recorded decisions through the real service (`govern serve` over loopback HTTP) and the CLI, on
SQLite and PostgreSQL: a past decision replays identically after the active bundle has changed twice; an
edited record or a changed stored revision replays as different (exit 1); unknown ids are 404 / exit 2."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest
from sqlalchemy import text

from govern.audit.log import append
from govern.audit.replay import differences
from govern.db.database import create_db_engine, session_scope, upgrade
from govern.db.public import TokenCreate
from govern.policy.decision import Decision
from govern.records.tokens import create_token
from tests.api.test_api import example
from tests.conftest import ROOT
from tests.live_service import running_service, wait_for

pytestmark = pytest.mark.slow

TIGHT_POLICY = """package govern.custom.tight

import rego.v1

# METADATA
# title: Shots stay under the limit
# custom:
#   id: TIGHT-001
#   severity: high
deny contains finding if {
\tinput.experiment.spec.shots > LIMIT
\tfinding := {"rule": "TIGHT-001", "message": "more than LIMIT shots"}
}
"""


def tokens(database_url: str) -> dict[str, dict[str, str]]:
    db = create_db_engine(database_url)
    upgrade(db)
    found = {}
    with session_scope(db) as session:
        for role, team in (("admin", "ops"), ("compliance", "audit"), ("submitter", "platform-qa")):
            _, secret = create_token(session, TokenCreate(role=role, team=team, name=f"test {role}"))
            found[role] = {"Authorization": f"Bearer {secret}"}
    db.dispose()
    return found


def change_bundle(bundle, limit: int, revision: str) -> None:
    (bundle / "govern" / "custom").mkdir(exist_ok=True)
    (bundle / "govern" / "custom" / "tight.rego").write_text(TIGHT_POLICY.replace("LIMIT", str(limit)))
    manifest = bundle / ".manifest"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "revision": revision}))


def test_a_past_decision_replays_identically_after_the_bundle_changed_twice(database_url, tmp_path, cli, monkeypatch):
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "policies", bundle)
    token = tokens(database_url)
    manifest, circuit = example("bell-local")
    with running_service(database_url, env={"GOVERN_BUNDLE": str(bundle)}) as url, httpx.Client(base_url=url, timeout=60) as http:
        def check() -> dict:
            answer = http.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=token["submitter"])
            assert answer.status_code == 200, answer.text
            return answer.json()["decision"]

        first = check()
        change_bundle(bundle, 1, "2026.12.1")
        assert http.post("/v1/policy/reload", headers=token["admin"]).status_code == 200
        tightened = check()
        change_bundle(bundle, 10**9, "2026.12.2")
        assert http.post("/v1/policy/reload", headers=token["admin"]).status_code == 200
        assert len({first["bundle_revision"], tightened["bundle_revision"], check()["bundle_revision"]}) == 3
        assert "TIGHT-001" in [f["rule"] for f in tightened["deny"]]

        def replayed(decision_id: str) -> httpx.Response | None:
            answer = http.post(f"/v1/audit/decisions/{decision_id}/replay", headers=token["compliance"])
            return None if answer.status_code == 409 else answer  # the starting revision is stored by a thread

        answer = wait_for(lambda: replayed(first["decision_id"]), what="the first revision to be stored")
        assert answer.status_code == 200 and answer.json()["identical"] is True, answer.text
        assert answer.json()["bundle_revision"] == first["bundle_revision"]
        again = http.post(f"/v1/audit/decisions/{tightened['decision_id']}/replay", headers=token["compliance"]).json()
        assert again["identical"] is True and again["recorded_outcome"] == "denied"

        assert http.post(f"/v1/audit/decisions/{first['decision_id']}/replay", headers=token["submitter"]).status_code == 403
        assert http.post("/v1/audit/decisions/no-such-decision/replay", headers=token["compliance"]).status_code == 404
        record = http.get(f"/v1/audit/decisions/{first['decision_id']}", headers=token["compliance"])
        assert record.status_code == 200 and record.json()["decision_id"] == first["decision_id"] and "hash" in record.json()
        assert http.get(f"/v1/audit/decisions/{first['decision_id']}", headers=token["submitter"]).status_code == 403
        assert http.get("/v1/audit/decisions/no-such-decision", headers=token["compliance"]).status_code == 404

    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    result = cli("audit", "replay", first["decision_id"])
    assert result.exit_code == 0 and "replays identically" in result.stdout, result.output
    assert cli("audit", "replay", "no-such-decision").exit_code == 2

    db = create_db_engine(database_url)
    with db.begin() as connection:  # the tightened decision's input, edited: it no longer has too many shots
        record = connection.execute(text("SELECT record FROM decision_log WHERE decision_id = :d"), {"d": tightened["decision_id"]}).scalar_one()
        edited = record.replace(f'"shots":{manifest["spec"]["shots"]}', '"shots":1')
        assert edited != record
        connection.execute(text("UPDATE decision_log SET record = :r WHERE decision_id = :d"), {"r": edited, "d": tightened["decision_id"]})
    result = cli("audit", "replay", tightened["decision_id"], "--format", "json")
    assert result.exit_code == 1, result.output
    assert {d["what"] for d in json.loads(result.stdout)["differences"]} >= {"deny rules"}

    with db.begin() as connection:  # a stored file of the first revision, changed
        connection.execute(text("UPDATE policy_blobs SET content = :c WHERE sha256 = (SELECT sha256 FROM policy_revision_files "
                                "WHERE revision = :r AND name = 'govern/procurement.rego')"),
                           {"c": b"package govern.procurement\n", "r": first["bundle_revision"]})
    db.dispose()
    result = cli("audit", "replay", first["decision_id"])
    assert result.exit_code == 1 and "DIFFERS" in result.stdout and "they were changed" in result.stdout, result.output


def test_a_revision_not_kept_cannot_be_replayed(database_url, engine, example_inputs, cli, monkeypatch):
    db = create_db_engine(database_url)
    upgrade(db)
    _, policy_input = example_inputs[0]
    decision = engine.evaluate(policy_input)
    with session_scope(db) as session:  # recorded without its revision, as before revisions were kept
        append(session, decision, policy_input, actor="test", kind="check")
    db.dispose()
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    result = cli("audit", "replay", decision.decision_id)
    assert result.exit_code == 2 and "was not kept" in result.output


def test_an_engine_failure_is_never_identical(engine, example_inputs):
    failed = Decision.failed_closed("evaluation did not finish within 5s", input_hash="h", bundle_revision="r", engine="embedded")
    recorded = failed.model_dump(mode="json")
    assert [d.what for d in differences(recorded, failed)] == ["engine"]
    decision = engine.evaluate(example_inputs[0][1])
    assert differences(decision.model_dump(mode="json"), decision) == []
    edited = {**decision.model_dump(mode="json"), "allow": not decision.allow}
    assert "outcome" in [d.what for d in differences(edited, decision)]
