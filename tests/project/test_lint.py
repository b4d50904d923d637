"""The repository passes its own lint and type-check configuration (`[tool.ruff]` and `[tool.mypy]` in
pyproject.toml), as CI runs them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_ruff_finds_nothing():
    finished = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "govern", "tests", "benchmarks"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stdout + finished.stderr


@pytest.mark.slow  # a cold type check of the whole package takes a quarter of a minute
def test_mypy_finds_nothing():
    finished = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout + finished.stderr
