"""The rules each recorded decision fired, kept beside the log as it appends and indexed from the records
by the migration that adds them, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlmodel import Session, select

from govern.audit import log
from govern.db.database import alembic_config, create_db_engine, upgrade
from govern.db.tables import DecisionRuleRecord
from govern.policy.decision import Decision, Finding


def decision(deny: tuple[str, ...], warn: tuple[str, ...] = ()) -> Decision:
    return Decision(allow=not deny, deny=tuple(Finding(rule=r, message="m") for r in deny),
                    warn=tuple(Finding(rule=r, message="m") for r in warn), bundle_revision="r", input_hash="h", engine="e")


def indexed(db) -> list[tuple[int, str, str, str]]:
    with Session(db) as session:
        rows = session.exec(select(DecisionRuleRecord).order_by(DecisionRuleRecord.seq, DecisionRuleRecord.effect, DecisionRuleRecord.rule)).all()
    return [(row.seq, row.effect, row.rule, row.team) for row in rows]


def test_appended_decisions_index_their_rules_and_the_migration_indexes_the_same_from_the_records(database_url):
    db = create_db_engine(database_url)
    upgrade(db)
    with Session(db) as session:
        for fired in (decision(("SEC-008", "SEC-008", "DATA-001"), ("PR-002",)), decision(()), decision(("SEC-008",))):
            log.append(session, fired, {"experiment": {"metadata": {"team": "platform-qa"}}}, actor="a", kind="check")
        session.commit()
    log.GroupCommit(db).append(decision(("X-" + "9" * 300,)), {}, actor="a", kind="check")
    written = indexed(db)
    assert written == [(1, "deny", "DATA-001", "platform-qa"), (1, "deny", "SEC-008", "platform-qa"), (1, "warn", "PR-002", "platform-qa"),
                       (3, "deny", "SEC-008", "platform-qa"), (4, "deny", "X-" + "9" * 198, "")]
    command.downgrade(alembic_config(db), "0015")
    upgrade(db)
    assert indexed(db) == written
    db.dispose()
