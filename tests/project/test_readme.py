"""The setup commands install the lock files, which pin what pyproject.toml asks for, and the service
walkthrough (docs/service.md) runs exactly as written (with a free port and a scratch folder)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_service_walkthrough_runs_as_written_from_any_folder(tmp_path):
    """From an empty folder outside the repository, with only what govern ships (`govern init --examples`), and
    with no GNU-only tool options."""
    readme = (ROOT / "docs" / "service.md").read_text()
    script = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)\n```", readme, re.DOTALL).group(1)
    assert "date -d" not in script and "govern init --examples" in script
    assert not tmp_path.resolve().is_relative_to(ROOT.resolve())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PORT": str(port), "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    for name in ("GOVERN_DATABASE_URL", "GOVERN_SERVER", "GOVERN_TOKEN"):
        env.pop(name, None)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert json.loads((tmp_path / "allowed.json").read_text())["submission"]["outcome"] == "allowed" and "DENIED" in result.stdout
    assert '"result_hash": "sha256:' in result.stdout and '"calibration_snapshot_id": "fake_brisbane@' in result.stdout  # the worker ran it
    assert "denied, exit 1" in result.stdout
    assert "decision log intact: 2 records" in result.stdout
    assert "record 2" in output and "tampering found, exit 1" in result.stdout


def _pins(lock: str) -> dict[str, str]:
    """name → version of a pip-compile lock file (names normalised as PEP 503 does)."""
    from packaging.utils import canonicalize_name

    text = (ROOT / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", text, re.MULTILINE)}


def test_setup_commands_install_the_locks_with_their_hashes():
    readme = (ROOT / "README.md").read_text()
    demo, suite = re.search(r"```sh\n(.*?)\n```", readme, re.DOTALL).group(1).splitlines()
    assert "--require-hashes -r requirements/govern.lock" in demo and "--no-deps --no-build-isolation ." in demo
    assert "--require-hashes -r requirements/test.lock" in suite and "--no-deps --no-build-isolation -e ." in suite


def test_locks_pin_what_pyproject_asks_for():
    """A dependency added to pyproject.toml without `requirements/lock` fails here, not on a fresh machine."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = [Requirement(text) for text in project["build-system"]["requires"]]
    runtime = [Requirement(text) for text in project["project"]["dependencies"]]
    test = [Requirement(text) for text in project["project"]["optional-dependencies"]["test"]]
    for lock, wanted in (("govern.lock", build + runtime), ("test.lock", build + runtime + test)):
        pins = _pins(lock)
        for requirement in wanted:
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{requirement} is not in requirements/{lock}: run requirements/lock"
            assert requirement.specifier.contains(pins[name], prereleases=True), f"requirements/{lock} pins {name}=={pins[name]}, outside {requirement}"
    runtime_pins, test_pins = _pins("govern.lock"), _pins("test.lock")
    assert {name: test_pins.get(name) for name in runtime_pins} == runtime_pins, "govern.lock and test.lock disagree"
