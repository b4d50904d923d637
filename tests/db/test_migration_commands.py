"""`govern db upgrade --sql` (the migration SQL for a DBA, the database untouched) and `govern db downgrade`,
on SQLite and the machine's real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from govern.db.database import create_db_engine, current_revision, head_revision, upgrade

pytestmark = pytest.mark.slow


def tables_of(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_sql_prints_the_migrations_and_leaves_the_database_alone(cli, database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    result = cli("db", "upgrade", "--sql")
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE api_tokens" in result.stdout and "CREATE TABLE decision_log" in result.stdout
    assert "UPDATE alembic_version SET version_num=" in result.stdout
    if database_url.startswith("sqlite"):
        assert not (tmp_path / "govern.db").exists()
    else:
        assert tables_of(database_url) == set()


def test_upgrade_sql_from_a_revision_prints_only_the_later_migrations(cli, database_url, monkeypatch):
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    result = cli("db", "upgrade", "--sql", "0010:head")
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE sandboxes" not in result.stdout and "decision_log" in result.stdout  # 0003 made it; 0014 adds a table of its own


def test_downgrade_steps_back_one_revision_and_upgrade_returns(cli, database_url, monkeypatch):
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    engine = create_db_engine(database_url)
    upgrade(engine)
    head = head_revision(engine)
    stepped = cli("db", "downgrade")
    assert stepped.exit_code == 0, stepped.output
    previous = current_revision(engine)
    assert previous is not None and previous != head and previous in stepped.stdout
    assert cli("db", "upgrade").exit_code == 0
    assert current_revision(engine) == head
    engine.dispose()


def test_downgrade_to_base_undoes_every_migration_then_refuses(cli, database_url, monkeypatch):
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    assert cli("db", "upgrade").exit_code == 0
    assert cli("db", "downgrade", "--to", "base").exit_code == 0
    assert tables_of(database_url) <= {"alembic_version"}
    refused = cli("db", "downgrade")
    assert refused.exit_code == 2 and "already at base" in refused.output
    assert cli("db", "upgrade").exit_code == 0
    assert "decision_log" in tables_of(database_url)


def test_downgrade_to_an_unknown_revision_exits_two(cli, database_url, monkeypatch):
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    assert cli("db", "upgrade").exit_code == 0
    refused = cli("db", "downgrade", "--to", "nonesuch")
    assert refused.exit_code == 2 and "nonesuch" in refused.output and "Traceback" not in refused.output
