"""The repository passes its own lint configuration (`[tool.ruff]` in pyproject.toml), as CI runs it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_ruff_finds_nothing():
    finished = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "govern", "tests", "benchmarks"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stdout + finished.stderr
