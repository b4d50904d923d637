"""`govern demo`, the README's main command: the whole path on embedded defaults, from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_path_from_another_folder(tmp_path):
    database = tmp_path / "data" / "demo.db"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("GOVERN_", "OPENLINEAGE"))}
    finished = subprocess.run(
        [sys.executable, "-m", "govern", "demo", "--database", str(database)], cwd=tmp_path, env=environment,
        capture_output=True, text=True, timeout=600,
    )
    output = " ".join(finished.stdout.split())
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert f"database: {database}" in output
    for step in ("check allowed, submission", "denied (decision", "ideal run on local/aer_simulator", "noisy run on ibm/ibm_brisbane",
                 "calibration fake_brisbane@", "-> run", "ABORT", "reproduce noisy: same circuit", "hash chain intact", "demo complete"):
        assert step in output, step
    assert Path(database).is_file()
