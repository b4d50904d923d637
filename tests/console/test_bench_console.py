"""benchmarks/bench_console.py runs end to end with tiny settings: seeds a scratch PostgreSQL database, serves
it, signs in and times every console page (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_console_benchmark_runs_with_tiny_settings(postgres_admin):
    from benchmarks.scratch import scratch_database

    with scratch_database(postgres_admin.render_as_string(hide_password=False), "govern_test") as database_url:
        finished = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "bench_console.py"), "--decisions", "200", "--runs", "20", "--requests", "2",
             "--database", database_url],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
    assert finished.returncode == 0, finished.stderr[-4000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["decisions"] == 200 and report["runs"] == 20 and report["target_ms"] == 200
    assert {"/ui/decisions", "/ui/decisions?outcome=denied"} <= report["pages"].keys()
    assert any(path.startswith("/ui/decisions/") for path in report["pages"])
    assert report["worst_page"] in report["pages"] and isinstance(report["met"], bool)
    assert all(set(figures) == {"p50_ms", "p99_ms"} for figures in report["pages"].values())
