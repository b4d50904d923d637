"""A bundle's files, read from a folder or a gzipped tarball, bounded before anything is allocated; and the
JSON and YAML documents among them, read strictly.

A bundle is hostile until proven otherwise: a tar.gz may be a gzip bomb, hold thousands of members, links,
devices, or names that climb out with `..`. Every count, size, depth and name is checked as it is met, and the
decompressed stream itself is capped, so refusing a bundle costs at most the caps below. Nothing is ever
extracted to disk: names are resolved against the bundle root in memory.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import stat
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

from govern.errors import InputError
from govern.manifest.documents import parse_documents

MAX_ENTRIES = 5_000
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32
MAX_NAME_CHARS = 1_024
MAX_NESTING = 100

_DRIVE = re.compile(r"^[A-Za-z]:")
_TAR_KINDS = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: "a device",
              tarfile.BLKTYPE: "a device", tarfile.FIFOTYPE: "a pipe"}


class BundleError(Exception):
    """The bundle cannot be used; whoever holds it must fail closed."""


def bundle_name(raw: str, source: str) -> str:
    """The bundle-relative name of an entry. `opa build` writes `/x`, `tar -C dir .` writes `./x`; both mean
    the bundle root. Anything else that is absolute, or that holds `..`, `.` or an empty segment, is refused."""
    if len(raw) > MAX_NAME_CHARS or "\0" in raw or "\\" in raw:
        raise BundleError(f"{source}: entry name {raw[:80]!r}… is too long or holds a NUL or backslash")
    name = raw[1:] if raw.startswith("/") else raw
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    if name in ("", "."):
        return ""
    parts = name.split("/")
    if _DRIVE.match(name) or any(part in ("", ".", "..") for part in parts):
        raise BundleError(f"{source}: entry {raw!r} is an absolute path or climbs out of the bundle")
    if len(parts) > MAX_DEPTH:
        raise BundleError(f"{source}: entry {raw!r} is nested more than {MAX_DEPTH} folders deep")
    return name


class _Tally:
    """Counts entries and bytes across one read, refusing as soon as a cap would be passed."""

    def __init__(self, source: str) -> None:
        self.source, self.entries, self.bytes = source, 0, 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise BundleError(f"{self.source}: more than {MAX_ENTRIES} entries")

    def file(self, name: str, size: int) -> None:
        if size > MAX_FILE_BYTES:
            raise BundleError(f"{self.source}: {name} is {size} bytes, over the {MAX_FILE_BYTES}-byte limit per file")
        self.bytes += size
        if self.bytes > MAX_TOTAL_BYTES:
            raise BundleError(f"{self.source}: more than {MAX_TOTAL_BYTES} bytes in all")


def read_bundle_files(path: Path) -> dict[str, bytes]:
    """Every regular file of a bundle folder or tar.gz, by bundle-relative name, in name order."""
    if path.is_dir():
        return read_folder(path)
    if path.is_file():
        return _read_tarball(path)
    raise BundleError(f"policy bundle not found: {path} is neither a folder nor a bundle.tar.gz")


def read_folder(root: Path, suffix: str = "") -> dict[str, bytes]:
    """The regular files under a folder (only those ending in `suffix`, if given). Links, devices and pipes
    are refused rather than skipped: OPA skips links, so a linked file would silently mean nothing."""
    tally, files = _Tally(str(root)), {}
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        entries = []
        try:
            with os.scandir(folder) as listing:
                for entry in listing:
                    tally.entry()
                    entries.append(entry)
        except OSError as exc:
            raise BundleError(f"{root}: cannot list {folder}: {exc.strerror}") from None
        for entry in sorted(entries, key=lambda e: e.name):
            name = bundle_name(prefix + entry.name, str(root))
            if entry.is_symlink():
                raise BundleError(f"{root}: {name} is a symbolic link; bundles hold regular files only")
            if entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), name + "/"))
            elif not entry.is_file(follow_symlinks=False):
                raise BundleError(f"{root}: {name} is not a regular file (a device, socket or pipe)")
            elif name.endswith(suffix):
                files[name] = _read_regular(Path(entry.path), name, tally)
    return dict(sorted(files.items()))


def _read_regular(path: Path, name: str, tally: _Tally) -> bytes:
    """Open without following links or blocking (a file swapped for a link or pipe after listing is refused)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise BundleError(f"{tally.source}: cannot open {name}: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise BundleError(f"{tally.source}: {name} is not a regular file")
        tally.file(name, status.st_size)
        content = handle.read(status.st_size + 1)
    if len(content) != status.st_size:
        raise BundleError(f"{tally.source}: {name} changed while it was read")
    return content


class _CappedStream:
    """The decompressed stream, cut off past the total cap: a gzip bomb stops here, whatever tarfile asks."""

    def __init__(self, stream: gzip.GzipFile, source: str) -> None:
        self.stream, self.source, self.used = stream, source, 0

    def read(self, size: int = -1) -> bytes:
        allowed = MAX_TOTAL_BYTES + 1 - self.used
        chunk = self.stream.read(allowed if size is None or size < 0 else min(size, allowed))
        self.used += len(chunk)
        if self.used > MAX_TOTAL_BYTES:
            raise BundleError(f"{self.source}: decompresses to more than {MAX_TOTAL_BYTES} bytes")
        return chunk


def _read_tarball(path: Path) -> dict[str, bytes]:
    source = str(path)
    if path.stat().st_size > MAX_TOTAL_BYTES:
        raise BundleError(f"{source}: the archive is over the {MAX_TOTAL_BYTES}-byte limit")
    tally, files = _Tally(source), {}
    try:
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            with tarfile.open(fileobj=_CappedStream(unzipped, source), mode="r|") as archive:  # type: ignore[call-overload]  # typeshed wants a whole file for a stream; "r|" only reads
                for member in archive:
                    tally.entry()
                    name = bundle_name(member.name, source)
                    if member.isdir():
                        continue
                    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or not name:
                        kind = _TAR_KINDS.get(member.type, f"of tar type {member.type!r}")
                        raise BundleError(f"{source}: member {member.name!r} is {kind}; bundles hold regular files only")
                    tally.file(name, member.size)
                    if name in files:
                        raise BundleError(f"{source}: {name} appears twice in the archive")
                    files[name] = archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BundleError(f"{source}: not a readable gzip-compressed tar archive ({exc})") from None
    return dict(sorted(files.items()))


def write_archive(path: Path, files: dict[str, bytes]) -> None:
    """A reproducible tar.gz with OPA's member names (`/x`, as `opa build` writes them), moved into place whole."""
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False)  # noqa: SIM115 - closed by `with handle` below, once its name is known
    try:
        with handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as zipped:
            with tarfile.open(fileobj=zipped, mode="w|", format=tarfile.PAX_FORMAT) as archive:
                for name, content in sorted(files.items()):
                    member = tarfile.TarInfo("/" + name)
                    member.size, member.mode = len(content), 0o644
                    archive.addfile(member, io.BytesIO(content))
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


def utf8(content: bytes, source: str) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{source} is not UTF-8 (byte {exc.start})") from None


class ExactNumber(str):
    """A JSON number exactly as written (OPA decodes with UseNumber, and hashes that text)."""


def parse_document(content: bytes, source: str, *, yaml: bool, exact_numbers: bool = False) -> Any:
    """A JSON document, strictly: duplicate keys and NaN are refused, since readers disagree on what they mean.
    With `yaml`, read as OPA's util.Unmarshal reads data.yaml: JSON when the bytes are JSON, else YAML (with
    YAML 1.2 booleans, no aliases, and only values JSON has)."""
    text = utf8(content.removeprefix(b"\xef\xbb\xbf") if yaml else content, source)
    number = ExactNumber if exact_numbers else None
    try:
        try:
            value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_not_json, parse_int=number, parse_float=number)
        except json.JSONDecodeError as exc:
            if not yaml:
                raise BundleError(f"{source}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}") from None
            value = _yaml(text, source)
        except ValueError as exc:
            if not yaml:
                raise BundleError(f"{source}: {exc}") from None
            value = _yaml(text, source)
    except RecursionError:
        raise BundleError(f"{source}: nested more than {MAX_NESTING} deep") from None
    _check_nesting(value, source)
    return value


def _check_nesting(value: Any, source: str) -> None:
    """Walked without recursion, so that everything after (merging, hashing) may recurse safely."""
    pending = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_NESTING:
            raise BundleError(f"{source}: nested more than {MAX_NESTING} deep")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        pending.extend((child, depth + 1) for child in children)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _yaml(text: str, source: str) -> Any:
    try:
        documents = parse_documents(text, source)
    except InputError as exc:
        raise BundleError(exc.describe()) from None
    if len(documents) > 1:
        raise BundleError(f"{source}: holds {len(documents)} YAML documents, not one")
    value = documents[0].data if documents else None
    _json_only(value, source)
    return value


def _json_only(value: Any, source: str) -> None:
    """YAML that has no JSON meaning (dates, binary, sets, non-string keys, infinities) is refused, not guessed."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BundleError(f"{source}: key {key!r} is not a string (quote it)")
            _json_only(item, source)
    elif isinstance(value, list):
        for item in value:
            _json_only(item, source)
    elif not (value is None or isinstance(value, (str, bool, int)) or (isinstance(value, float) and math.isfinite(value))):
        raise BundleError(f"{source}: {value!r} is not a JSON value (quote it)")
