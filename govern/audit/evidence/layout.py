"""An evidence pack's layout, shared by whoever writes one and whoever verifies it: member names, the bounds a
verifier holds a pack to, the one zip encoding a pack has, and the exact text its signature covers.

The zip is canonical: members stored (not compressed), in the index's order, every header field fixed. So
the zip's bytes follow from its members alone, and a verifier rebuilds them and compares: a change anywhere
in the file, inside a member or between them, is found.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence

INDEX = "pack.json"
SIGNATURE = "pack.sig"
CHECKPOINT = "checkpoint.txt"
PACK_FORMAT = "govern evidence pack v1"
"""The first line of the signed note: what the signature is about (never a checkpoint, whose line 2 is a number)."""

MAX_PACK_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_NAME_CHARS = 512
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16
UNIX = 3

_PART = re.compile(r"[A-Za-z0-9_@=+-][A-Za-z0-9._@=+-]*|\.[A-Za-z0-9_@=+-][A-Za-z0-9._@=+-]*")


class PackError(Exception):
    """The pack is not what its signed index says: `member` names the file (or the zip itself) and why."""

    def __init__(self, member: str, reason: str):
        super().__init__(f"{member}: {reason}")
        self.member = member
        self.reason = reason


class UnreadablePack(Exception):
    """Not a zip, or one past the bounds a pack keeps (too large, too many members, compressed, a climbing name)."""


def safe_name(name: str) -> bool:
    """A relative path of plain parts: nothing absolute, no `..`, no backslash, nothing a shell or unzip misreads."""
    return 0 < len(name) <= MAX_NAME_CHARS and all(_PART.fullmatch(part) for part in name.split("/"))


def name_part(text: str) -> str:
    """`text` (a revision, a decision id) as one safe path part: other characters become '_'."""
    part = re.sub(r"[^A-Za-z0-9._@=+-]", "_", text)[:200]
    return part if _PART.fullmatch(part) else "_" + part


def zip_bytes(members: Sequence[tuple[str, bytes]]) -> bytes:
    """The one zip a pack of these members is: stored, in this order, fixed time, mode and system."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = UNIX
            info.external_attr = FILE_MODE
            archive.writestr(info, data)
    return buffer.getvalue()


def signed_body(origin: str, submission_id: str, index_sha256: str) -> str:
    """The note text pack.sig signs: the pack format, the log's origin, the submission, the index's SHA-256."""
    return f"{PACK_FORMAT}\n{origin}\n{submission_id}\nsha256:{index_sha256}\n"
