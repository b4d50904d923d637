"""The distribution govern is installed as, which is not the import package's name: PyPI's `govern` is an
unrelated project, so `pip install govern` would install that one."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "govern-engine"


@functools.cache
def installed_version() -> str | None:
    """The installed distribution's version, read once (reading it scans the installed distributions); None
    in a source tree that was never installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return None
