"""A policy reload asked of one service on a database is followed by every other service on it (as the
server processes of one `govern serve` are), on SQLite and on PostgreSQL, in-process."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.settings import Settings
from tests.api.test_api import auth, token_for
from tests.conftest import ROOT
from tests.live_service import wait_for

pytestmark = pytest.mark.slow


def test_a_reload_in_one_service_is_followed_by_the_others_on_its_database(database_url, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "policies", bundle)
    settings = Settings(database_url=database_url, migrate_on_start=True, bundle=bundle)
    with TestClient(create_app(settings)) as asked, TestClient(create_app(settings)) as other:
        admin = auth(token_for(asked, "admin", "ops"))
        manifest = bundle / ".manifest"
        manifest.write_text(manifest.read_text().replace("2026.12.0", "2026.12.7"))
        first = asked.post("/v1/policy/reload", headers=admin).json()
        assert first["revision"] == "2026.12.7" and first["generation"] == 1
        wait_for(lambda: other.get("/v1/policy", headers=admin).json()["revision"] == "2026.12.7", timeout_s=5,
                 what="the other service to follow the reload")
        assert other.post("/v1/policy/reload", headers=admin).json()["generation"] == 2  # generations are shared
        wait_for(lambda: asked.app.state.policy_follower.generation == 2, timeout_s=5, what="the first to follow back")
        assert asked.get("/v1/policy", headers=admin).json()["bundle_revision"] == first["bundle_revision"]
