"""What /metrics says about the running service besides its decisions: the process and platform, the build,
and the policy bundle revision it decides with (following a reload)."""

from __future__ import annotations

import platform
import re
import shutil

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.settings import Settings
from tests.api.test_api import auth, token_for
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def bundle_revision_label(text: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith("govern_policy_bundle_info{")]
    match = re.search(r'revision="([^"]+)"', line)
    assert match, line
    return match.group(1)


def test_metrics_show_process_platform_build_and_the_bundle_revision_after_a_reload(database_url, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "policies", bundle)
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, bundle=bundle))) as client:
        admin = auth(token_for(client, "admin", "ops"))
        text = client.get("/metrics", headers=admin).text
        assert "process_resident_memory_bytes" in text and "process_cpu_seconds_total" in text
        assert f'python_info{{implementation="{platform.python_implementation()}"' in text
        (build,) = [line for line in text.splitlines() if line.startswith("govern_build_info{")]
        assert f'python="{platform.python_version()}"' in build and 'version="' in build
        before = client.get("/v1/policy", headers=admin).json()["bundle_revision"]
        assert bundle_revision_label(text) == before

        manifest = bundle / ".manifest"
        manifest.write_text(manifest.read_text().replace("2026.12.0", "2026.12.1"))
        after = client.post("/v1/policy/reload", headers=admin).json()["bundle_revision"]
        assert after != before
        assert bundle_revision_label(client.get("/metrics", headers=admin).text) == after
