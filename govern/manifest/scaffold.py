"""`govern init`: a starting manifest and circuit that pass the default policies on the local simulator, or
a copy of the packaged examples (what the service walkthrough and `govern demo` use)."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

MANIFEST = """\
# An experiment submission. Check it with: govern check experiment.yaml
# The JSON Schema for editors: govern schema > experiment.schema.json
apiVersion: govern/v1
kind: Experiment
metadata:
  name: bell-state-demo            # lower-case DNS label
  team: my-team
  owner: you@example.com
  labels: {costCenter: CC-0000}    # required for paid backends
spec:
  purpose: "Prepare and measure a Bell pair on the local simulator"
  circuit: {path: circuits/bell.qasm}
  backend: {vendor: local, device: aer_simulator}
  shots: 1024
  datasets:
    - {namespace: "s3://my-team-data", name: calibration/bell, classification: internal, containsPII: false, region: us-east}
  hyperparameters: {seed: 7}
  # For a paid backend, add the procurement sandbox that pays and reference credentials, never secrets:
  # sandbox: SBX-2026-000
  # credentials: {token: "env:IBM_QUANTUM_TOKEN"}
"""

CIRCUIT = """\
OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


def write_scaffold(directory: Path, force: bool = False) -> list[Path]:
    files = {directory / "experiment.yaml": MANIFEST, directory / "circuits" / "bell.qasm": CIRCUIT}
    if not force:
        for path in files:
            if path.exists():
                raise FileExistsError(str(path))
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def examples_dir() -> Path:
    """The examples shipped in the wheel, or the source checkout's `examples/` in a development install."""
    packaged = Path(str(files("govern"))) / "_packaged" / "examples"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "examples"


def copy_examples(directory: Path, force: bool = False) -> list[Path]:
    """Copy every packaged example into `directory`, keeping their layout (manifests refer to `../circuits/`);
    FileExistsError names the first file that exists, before anything is written, unless `force`."""
    source = examples_dir()
    copies = {path: directory / path.relative_to(source) for path in sorted(source.rglob("*")) if path.is_file()}
    if not force:
        for target in copies.values():
            if target.exists():
                raise FileExistsError(str(target))
    for path, target in copies.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return list(copies.values())
