"""The console's vendored JavaScript is exactly what VENDORED.md lists: every file there by its sha256, and
nothing in the folder that it does not list (a changed or added file must come through `update`)."""

from __future__ import annotations

import hashlib
import re

from tests.conftest import ROOT

VENDOR = ROOT / "govern" / "console" / "static" / "vendor"
ROW = re.compile(r"^\| `([^`]+)` \| `[^`]+` \| [^|]+ \| `[^`]+` \| `([0-9a-f]{64})` \|$", re.MULTILINE)
TOOLING = {"VENDORED.md", "update"}


def listed() -> dict[str, str]:
    """file (relative to the vendor folder) → sha256, from VENDORED.md's table."""
    return dict(ROW.findall((VENDOR / "VENDORED.md").read_text(encoding="utf-8")))


def test_every_vendored_file_matches_its_listed_sha256():
    files = listed()
    assert files, "VENDORED.md lists no files"
    for path, digest in files.items():
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest, f"{path} differs from VENDORED.md"


def test_nothing_is_vendored_unlisted():
    present = {path.relative_to(VENDOR).as_posix() for path in VENDOR.rglob("*") if path.is_file()} - TOOLING
    assert present == set(listed())


def test_each_library_ships_its_licence():
    files = listed()
    for folder in {path.split("/")[0] for path in files}:
        assert f"{folder}/LICENSE" in files, folder
