"""The installed distribution: its name on PyPI is `govern-engine` (PyPI's `govern` is an unrelated project),
while the import package and the command stay `govern`."""

from __future__ import annotations

import functools
from email.message import Message
from importlib.metadata import PackageNotFoundError, metadata

DISTRIBUTION = "govern-engine"
"""The name pip installs this project by; `pyproject.toml` says the same (tests/project/test_packaging.py)."""


@functools.cache
def installed_metadata() -> Message | None:
    """The installed distribution's metadata, read once (reading it scans the installed distributions); a
    source tree that was never installed has none."""
    try:
        return metadata(DISTRIBUTION)  # type: ignore[return-value]
    except PackageNotFoundError:
        return None


def installed_version(missing: str = "0+unknown") -> str:
    """The installed version, or `missing` when running from a source tree that was never installed."""
    meta = installed_metadata()
    return str(meta["Version"]) if meta is not None else missing
