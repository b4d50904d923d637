"""The service the pilot tests talk to: migrated, IBM devices simulated offline, lineage kept in the outbox."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.settings import Settings


@pytest.fixture
def client(database_url):
    settings = Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False, ibm_mode="local")
    with TestClient(create_app(settings)) as client:
        yield client
