"""Bundle revisions kept content-addressed on SQLite and PostgreSQL: stored once, loaded back to the same
revision with a team's policies, and refused once a stored file was changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from govern.db.database import create_db_engine, session_scope, upgrade
from govern.policy.bundle import BundleError, load_bundle
from govern.records.policy_revisions import load_revision, revisions, store_revision

pytestmark = pytest.mark.slow

TEAM_POLICY = """package govern.custom.quantum

import rego.v1

# METADATA
# title: Shots stay small
# custom:
#   id: TEAM-001
#   severity: low
deny contains finding if {
\tinput.experiment.spec.shots > 100000
\tfinding := {"rule": "TEAM-001", "message": "too many shots"}
}
"""


def test_a_revision_is_kept_once_and_loads_back_exactly(database_url, tmp_path):
    team = tmp_path / "team"
    team.mkdir()
    (team / "shots.rego").write_text(TEAM_POLICY)
    shipped, with_team = load_bundle(), load_bundle(policy_dirs=[team])
    assert shipped.revision != with_team.revision
    db = create_db_engine(database_url)
    upgrade(db)
    first = datetime(2026, 12, 1, tzinfo=UTC)
    with session_scope(db) as session:
        store_revision(session, shipped, first)
        store_revision(session, with_team, first + timedelta(hours=1))
        store_revision(session, shipped, first + timedelta(hours=2))
    with session_scope(db) as session:
        kept = revisions(session)
        loaded = load_revision(session, with_team.revision)
        again = load_revision(session, shipped.revision)
        assert load_revision(session, "sha256:" + "0" * 64) is None
    with db.connect() as connection:
        blobs = connection.execute(text("SELECT count(*) FROM policy_blobs")).scalar_one()
    db.dispose()
    assert [k.revision for k in kept] == [shipped.revision, with_team.revision]
    assert kept[0].first_active_at.replace(tzinfo=UTC) == first and kept[0].last_active_at.replace(tzinfo=UTC) == first + timedelta(hours=2)
    assert blobs == len(shipped.files) + 1  # the bundle's files are shared by both revisions
    assert loaded is not None and again is not None
    assert loaded.revision == with_team.revision and again.revision == shipped.revision
    assert [(m.path, m.source, m.origin) for m in loaded.modules] == [(m.path, m.source, m.origin) for m in with_team.modules]
    assert loaded.engine_data == with_team.engine_data


def test_a_changed_stored_file_is_refused(database_url):
    bundle = load_bundle()
    db = create_db_engine(database_url)
    upgrade(db)
    with session_scope(db) as session:
        store_revision(session, bundle)
    with db.begin() as connection:
        digest = connection.execute(text("SELECT sha256 FROM policy_revision_files WHERE name = 'govern/procurement.rego'")).scalar_one()
        connection.execute(text("UPDATE policy_blobs SET content = :c WHERE sha256 = :d"),
                           {"c": b"package govern.procurement\n", "d": digest})
    with session_scope(db) as session, pytest.raises(BundleError, match="they were changed"):
        load_revision(session, bundle.revision)
    db.dispose()
