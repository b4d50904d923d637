"""Shared fixtures: the shipped bundle compiled once, the examples, and an in-process CLI runner."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govern.bundle import load_bundle
from govern.cli import app
from govern.engine.embedded import EmbeddedEngine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES_NOW = "2026-11-24T12:00:00+00:00"
"""The examples' context is dated: sandboxes are time-boxed, so checks pin the evaluation time."""


@pytest.fixture(scope="session")
def bundle():
    return load_bundle()


@pytest.fixture(scope="session")
def engine(bundle):
    engine = EmbeddedEngine(bundle)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def examples_now() -> datetime:
    return datetime.fromisoformat(EXAMPLES_NOW)


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
