"""Which files a check reads: files, folders and globs expanded to the manifests they hold, and what matches
nothing as an input error naming the argument."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from govern.check.report import CheckResult
from govern.errors import InputError
from govern.manifest.documents import MANIFEST_SUFFIXES, Document

EXPERIMENT_KIND = "Experiment"


@dataclass(frozen=True)
class Target:
    """A file to read; `explicit` when the user named it (it must then hold an Experiment)."""

    path: Path
    explicit: bool


def discover(arguments: Iterable[str], named_files_must_hold_experiments: bool = True) -> tuple[list[Target], list[CheckResult]]:
    """Expand files, folders and globs; arguments that match nothing become input errors."""
    targets: list[Target] = []
    missing: list[CheckResult] = []
    seen: set[Path] = set()

    def add(path: Path, explicit: bool) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            targets.append(Target(path, explicit))

    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.suffix in MANIFEST_SUFFIXES and child.is_file() and not _hidden(child, path):
                    add(child, explicit=False)
        elif path.is_file():
            add(path, explicit=named_files_must_hold_experiments)
        elif glob.has_magic(argument):
            matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix in MANIFEST_SUFFIXES]
            if not files:
                missing.append(CheckResult(argument, error=InputError(argument, "no manifest matches this pattern")))
            for match in files:
                add(match, explicit=False)
        else:
            missing.append(CheckResult(argument, error=InputError(argument, "no such file or folder")))
    return targets, missing


def experiment_name(document: Document) -> str:
    """metadata.name as written, or "" when the document is too malformed to have one."""
    metadata = document.data.get("metadata") if isinstance(document.data, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _hidden(child: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in child.relative_to(root).parts)
