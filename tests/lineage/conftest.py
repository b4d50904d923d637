"""What the lineage tests share: a migrated database of each kind the suite runs on."""

from __future__ import annotations

import pytest

from govern.db.database import create_db_engine, upgrade


@pytest.fixture
def database(database_url):
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()
