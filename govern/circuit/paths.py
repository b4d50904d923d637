"""The path rule: circuits and their includes are read only inside one folder tree (the manifest's, or --root)."""

from __future__ import annotations

import os
from pathlib import Path


def contained(base: Path, name: str, root: Path) -> Path | None:
    """`name` relative to `base`, with symlinks followed, when it stays inside `root`; else None (nothing is read)."""
    if "\0" in name:
        return None
    resolved = Path(os.path.realpath(base / name))
    return resolved if resolved.is_relative_to(Path(os.path.realpath(root))) else None


def default_tree(folder: Path) -> Path:
    """The tree a manifest's circuit may come from: its folder, widened to the current folder or the git work tree
    it lies in (so a project's `../circuits/` works), but never to the home folder or above."""
    resolved = Path(os.path.realpath(folder))
    home, here = Path(os.path.realpath(Path.home())), Path(os.path.realpath(Path.cwd()))
    widest = resolved
    for candidate in (resolved, *resolved.parents):
        if home.is_relative_to(candidate):
            break
        if candidate == here or (candidate / ".git").exists():
            widest = candidate
    return widest
