"""The candidate bundle as uploaded to `POST /v1/policy/impact`: a bundle tar.gz (govern.policy.archive's
format, as `opa build` writes it) whose team policy modules, if any, sit under `.custom/N/` (N numbering the
team folders), so the service rebuilds the same bundle, and the same revision, that `govern check` would load.

The archive is hostile input: it is read by the bounded archive reader (sizes, counts, names, gzip bombs).
It is only evaluated, never installed, so its signature is not required (a candidate under review rarely is
signed); evaluation runs in the evaluator processes, under their timeout and memory cap.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from govern.policy.archive import read_bundle_files, utf8, write_archive
from govern.policy.bundle import (
    CUSTOM_PACKAGE,
    CUSTOM_TEST_PACKAGE,
    BundleError,
    Module,
    PolicyBundle,
    assemble,
    with_team_modules,
)
from govern.policy.signing import SIGNATURES_FILE

TEAM_FOLDER = ".custom"


def candidate_archive(bundle: PolicyBundle) -> bytes:
    """The bundle's loaded files as a tar.gz, its team modules under `.custom/N/`."""
    origins: dict[str, int] = {}
    files = {}
    for item in bundle.files:
        if item.kind == "custom":
            number = origins.setdefault(item.origin, len(origins))
            files[f"{TEAM_FOLDER}/{number}/{item.name}"] = item.content
        else:
            files[item.name] = item.content
    with tempfile.TemporaryDirectory(prefix="govern-candidate-") as folder:
        path = Path(folder) / "candidate.tar.gz"
        write_archive(path, files)
        return path.read_bytes()


def candidate_from_archive(body: bytes) -> PolicyBundle:
    """The bundle an uploaded archive holds; BundleError naming what is wrong with it."""
    if not body:
        raise BundleError("the request body is empty: send the candidate bundle as a tar.gz")
    with tempfile.TemporaryDirectory(prefix="govern-candidate-") as folder:
        path = Path(folder) / "candidate.tar.gz"
        path.write_bytes(body)
        contents = read_bundle_files(path)
    contents.pop(SIGNATURES_FILE, None)
    team: list[tuple[str, Module]] = []
    for name in [n for n in contents if n.startswith(TEAM_FOLDER + "/")]:
        content = contents.pop(name)
        number, _, rel = name.removeprefix(TEAM_FOLDER + "/").partition("/")
        if not number.isdigit() or not rel.endswith(".rego"):
            raise BundleError(f"candidate: {name} is not a team policy module ({TEAM_FOLDER}/N/path.rego)")
        module = Module(f"{TEAM_FOLDER}/{number}/{rel}", utf8(content, name), f"team folder {number}")
        home = CUSTOM_TEST_PACKAGE if module.is_test else CUSTOM_PACKAGE
        if module.package != home and not module.package.startswith(home + "."):
            raise BundleError(f"candidate: {name}: package {module.package or '(none)'} is not {home} or under it")
        team.append((rel, module))
    return with_team_modules(assemble(Path("candidate"), contents), team)

