"""The README's service walkthrough, run exactly as written (with a free port and a scratch folder)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_service_walkthrough_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    script = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)\n```", readme, re.DOTALL).group(1)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
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
    assert "ALLOWED" in result.stdout and "DENIED" in result.stdout
    assert "denied, exit 1" in result.stdout
    assert "decision log intact: 2 records" in result.stdout
    assert "record 2" in output and "tampering found, exit 1" in result.stdout
