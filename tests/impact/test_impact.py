"""Impact analysis on SQLite and PostgreSQL: a tighter rule reports the flips it causes, an unchanged bundle
reports none; every format renders; `govern policy impact --fail-on-change` exits 1 on a change; the service
route answers the same report over real HTTP and refuses a submitter (403) and a broken archive (422)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from govern.audit.log import append
from govern.db.database import create_db_engine, session_scope, upgrade
from govern.db.public import TokenCreate
from govern.impact.analysis import Window, analyse
from govern.impact.candidate import candidate_archive, candidate_from_archive
from govern.impact.formats import FORMATS
from govern.policy.bundle import BundleError, load_bundle
from govern.policy.engines.embedded import RegorusEngine
from govern.records.tokens import create_token
from tests.live_service import running_service

pytestmark = pytest.mark.slow

TIGHT_POLICY = """package govern.custom.tight

import rego.v1

# METADATA
# title: Shots stay small
# custom:
#   id: TIGHT-001
#   severity: high
deny contains finding if {
\tinput.experiment.spec.shots > 1500
\tfinding := {"rule": "TIGHT-001", "message": "more than 1500 shots"}
}
"""


@pytest.fixture
def recorded(database_url, engine, example_inputs):
    """The database with every example decided by the shipped bundle and recorded; (url, decisions)."""
    db = create_db_engine(database_url)
    upgrade(db)
    decisions = []
    with session_scope(db) as session:
        for _, policy_input in example_inputs:
            decision = engine.evaluate(policy_input)
            append(session, decision, policy_input, actor="test", kind="check")
            decisions.append((decision, policy_input))
    db.dispose()
    return database_url, decisions


@pytest.fixture(scope="module")
def team_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("team")
    (folder / "tight.rego").write_text(TIGHT_POLICY)
    return folder


def tightened(decisions):
    """What TIGHT-001 should change: every decision on more than 1500 shots gains it."""
    hit = [(d, i) for d, i in decisions if i["experiment"]["spec"]["shots"] > 1500]
    return hit, [d for d, _ in hit if d.outcome.value != "denied"]


def run(url, bundle, **options):
    db = create_db_engine(url)
    candidate = RegorusEngine(bundle, workers=2)
    try:
        return analyse(db, candidate, options.pop("window", Window()), candidate_manifest_revision=bundle.manifest_revision, **options)
    finally:
        candidate.close()
        db.dispose()


def test_a_tighter_rule_reports_its_flips_and_an_unchanged_bundle_none(recorded, team_folder):
    url, decisions = recorded
    unchanged = run(url, load_bundle())
    assert unchanged.replayed == len(decisions) and unchanged.changed == 0 and unchanged.changed_decisions == []
    assert unchanged.allow_to_deny == unchanged.deny_to_allow == 0 and unchanged.rules_added == unchanged.rules_removed == {}

    seen = []
    report = run(url, load_bundle(policy_dirs=[team_folder]), progress=lambda done, total: seen.append((done, total)))
    hit, flipped = tightened(decisions)
    assert flipped, "the examples must include allowed decisions on more than 1500 shots"
    assert report.replayed == len(decisions) and report.changed == len(hit)
    assert report.allow_to_deny == len(flipped) and report.deny_to_allow == 0
    assert report.rules_added == {"TIGHT-001": len(hit)} and report.rules_removed == {}
    assert {c.decision_id for c in report.changed_decisions} == {d.decision_id for d, _ in hit}
    assert all(c.link == f"/v1/audit/decisions/{c.decision_id}" for c in report.changed_decisions)
    assert set(report.teams) == {i["experiment"]["metadata"]["team"] for _, i in hit}
    sandboxes = Counter(i["experiment"]["spec"].get("sandbox") or "" for _, i in hit)
    assert report.sandboxes == {name: n for name, n in sorted(sandboxes.items()) if name}
    assert seen[-1] == (len(decisions), len(decisions))


def test_the_window_and_the_cap(recorded, team_folder):
    url, decisions = recorded
    bundle = load_bundle(policy_dirs=[team_folder])
    hit, _ = tightened(decisions)
    capped = run(url, bundle, listed_limit=1, chunk=3)
    assert capped.changed == len(hit) and len(capped.changed_decisions) == 1 and capped.truncated
    assert capped.changed_decisions[0].new_outcome != capped.changed_decisions[0].recorded_outcome  # outcome changes kept first
    denied = run(url, bundle, window=Window(outcome="denied"))
    assert denied.replayed == sum(d.outcome.value == "denied" for d, _ in decisions) and denied.allow_to_deny == 0
    team = decisions[0][1]["experiment"]["metadata"]["team"]
    assert run(url, bundle, window=Window(team=team)).replayed == sum(i["experiment"]["metadata"]["team"] == team for _, i in decisions)
    assert run(url, bundle, window=Window(until="2000-01-01T00:00:00Z")).replayed == 0


def test_every_format_renders_without_changing_the_report(recorded, team_folder):
    url, _ = recorded
    report = run(url, load_bundle(policy_dirs=[team_folder]), listed_limit=2, link_base="https://govern.example")
    before = report.model_dump()
    document = json.loads(FORMATS["json"](report))
    assert {"replayed", "changed", "allow_to_deny", "deny_to_allow", "rules_added", "rules_removed"} <= set(document)
    assert document["truncated"] is True and document["changed_listed"] == 2
    text = FORMATS["text"](report)
    assert f"changed {report.changed}" in text and "TIGHT-001" in text
    markdown = FORMATS["markdown"](report)
    assert "| replayed | changed |" in markdown and "| `TIGHT-001` |" in markdown
    assert f"(https://govern.example/v1/audit/decisions/{report.changed_decisions[0].decision_id})" in markdown
    assert "more changed decisions not shown" in markdown
    assert report.model_dump() == before


def test_the_cli_fails_on_change_only_when_something_changes(recorded, team_folder, cli, monkeypatch, tmp_path):
    url, decisions = recorded
    monkeypatch.setenv("GOVERN_DATABASE_URL", url)
    assert cli("policy", "impact", "--fail-on-change").exit_code == 0
    out = tmp_path / "impact.json"
    result = cli("policy", "impact", "--policy", team_folder, "--fail-on-change", "--format", "json", "--output", out)
    assert result.exit_code == 1, result.output
    assert json.loads(out.read_text())["changed"] == len(tightened(decisions)[0])
    assert cli("policy", "impact", "--policy", team_folder, "--format", "markdown").exit_code == 0
    assert cli("policy", "impact", "--since", "yesterday").exit_code == 2


def test_a_candidate_archive_rebuilds_the_same_revision(team_folder):
    bundle = load_bundle(policy_dirs=[team_folder])
    assert candidate_from_archive(candidate_archive(bundle)).revision == bundle.revision
    for broken in (b"", b"not a tar.gz"):
        with pytest.raises(BundleError):
            candidate_from_archive(broken)


def test_the_service_route_answers_the_report_and_refuses_submitters(recorded, team_folder, cli, monkeypatch):
    import httpx

    url, decisions = recorded
    db = create_db_engine(url)
    with session_scope(db) as session:
        _, compliance = create_token(session, TokenCreate(role="compliance", team="audit", name="c"))
        _, submitter = create_token(session, TokenCreate(role="submitter", team="platform-qa", name="s"))
    db.dispose()
    archive = candidate_archive(load_bundle(policy_dirs=[team_folder]))
    with running_service(url) as service:
        monkeypatch.setenv("GOVERN_TOKEN", compliance)
        result = cli("policy", "impact", "--policy", team_folder, "--server", service, "--format", "json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["changed"] == len(tightened(decisions)[0]) and report["rules_added"] == {"TIGHT-001": report["changed"]}
        assert report["changed_decisions"][0]["link"].startswith(f"{service}/v1/audit/decisions/")
        headers = {"Content-Type": "application/octet-stream"}
        refused = httpx.post(f"{service}/v1/policy/impact", content=archive, headers={**headers, "Authorization": f"Bearer {submitter}"})
        assert refused.status_code == 403
        broken = httpx.post(f"{service}/v1/policy/impact", content=b"not an archive", headers={**headers, "Authorization": f"Bearer {compliance}"})
        assert broken.status_code == 422 and "candidate bundle refused" in broken.json()["detail"]
