"""`govern check --record`: a local check appends its decisions to the decision log and keeps the bundle
revision they name, so each can be replayed later; the report comes only once they are committed."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from govern.audit.log import verify
from govern.audit.record_format import policy_input_of
from govern.db.database import create_db_engine, session_scope, upgrade
from govern.db.tables import DecisionRecord
from govern.records.policy_revisions import load_revision
from tests.cli.test_cli import check
from tests.conftest import EXAMPLES


@pytest.mark.slow
def test_recorded_checks_land_in_the_log_with_their_revision(cli, database_url, monkeypatch):
    db = create_db_engine(database_url)
    upgrade(db)
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    result = check(cli, str(EXAMPLES / "allowed"), str(EXAMPLES / "denied"), "--format", "json", "--record")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    decided = [r for r in report["results"] if r["status"] != "error"]
    assert f"recorded {len(decided)} decisions in the decision log (records 1 to {len(decided)})" in result.stderr
    with session_scope(db) as session:
        assert verify(session).ok
        rows = session.exec(select(DecisionRecord).order_by(DecisionRecord.seq)).all()
        assert [row.decision_id for row in rows] == [r["decision"]["decision_id"] for r in decided]
        assert {row.kind for row in rows} == {"check"} and rows[0].actor.startswith("cli:")
        bundle = load_revision(session, rows[0].bundle_revision)
        assert bundle is not None and bundle.revision == rows[0].bundle_revision
        now_ns = policy_input_of(json.loads(rows[0].record))["now_ns"]
        assert isinstance(now_ns, int) and now_ns > 2**53
    again = check(cli, str(EXAMPLES / "allowed" / "bell-local.yaml"), "--record")
    assert again.exit_code == 0 and "(records" in again.stderr
    db.dispose()


def test_record_is_refused_where_it_cannot_be_kept(cli, tmp_path, monkeypatch):
    served = cli("check", str(EXAMPLES / "allowed" / "bell-local.yaml"), "--record", "--server", "http://127.0.0.1:9")
    assert served.exit_code == 2 and "the service records every decision it makes" in served.output
    monkeypatch.setenv("GOVERN_DATABASE_URL", f"sqlite:///{tmp_path / 'unmigrated.db'}")
    unmigrated = check(cli, str(EXAMPLES / "allowed" / "bell-local.yaml"), "--record")
    assert unmigrated.exit_code == 2 and "govern db upgrade" in unmigrated.output
