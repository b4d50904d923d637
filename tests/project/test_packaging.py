"""`pip install .` must work away from the source tree: the bundle, facet schemas and examples ship in the wheel,
under a distribution name of govern's own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest

from govern.distribution import DISTRIBUTION
from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PROJECT_NAME = PROJECT["name"]


def normalized(name: str) -> str:
    """The name as wheel files and PyPI compare it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_distribution_is_not_pypis_unrelated_govern():
    """PyPI's `govern` is another project ("Model governance AI for quant finance"): `pip install govern` gets that."""
    assert normalized(PROJECT_NAME) != "govern"


def test_the_code_names_the_distribution_pyproject_declares():
    """`govern --version`, the SARIF driver and the lineage producer read the installed metadata by this name."""
    assert normalized(DISTRIBUTION) == normalized(PROJECT_NAME)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob(f"{normalized(PROJECT_NAME).replace('-', '_')}-*.whl")
    return path


@pytest.mark.slow
def test_wheel_carries_policies_lineage_and_examples(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "govern/_packaged/policies/.manifest" in names
    assert "govern/_packaged/policies/govern/main.rego" in names
    assert "govern/_packaged/lineage/README.md" in names
    assert "govern/_packaged/examples/context.yaml" in names
    assert "govern/audit/evidence/templates/summary.html.j2" in names  # the evidence pack's summary
    for vendored in ("cytoscape/cytoscape.min.js", "cytoscape-dagre/cytoscape-dagre.min.js", "chart.js/chart.umd.min.js",
                     "VENDORED.md"):
        assert f"govern/console/static/vendor/{vendored}" in names  # the console's JavaScript, served offline
    assert "govern/migrations/versions/0001_api_tokens.py" in names
    assert "govern/migrations/script.py.mako" in names
    assert any(n.endswith("entry_points.txt") for n in names)


@pytest.mark.slow
def test_installed_wheel_works_outside_the_source_tree(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("GOVERN_BUNDLE", None)
    where = subprocess.run(
        [sys.executable, "-c", "import govern.policy.bundle as b; print(b.default_bundle_path())"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )
    assert where.stdout.strip().startswith(str(target))
    examples = target / "govern" / "_packaged" / "examples"
    result = subprocess.run(
        [sys.executable, "-m", "govern", "check", str(examples / "allowed"), "--context", str(examples / "context.yaml"),
         "--now", "2026-11-24T12:00:00+00:00", "-f", "json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    version = subprocess.run(
        [sys.executable, "-m", "govern", "--version"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert version.stdout == f"govern {PROJECT['version']}\n", version.stderr
