"""Canonical JSON: the one byte string per value that inputs, records and checkpoints are hashed over."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: one byte string per value, so equal inputs hash equal.

    Not RFC 8785: its I-JSON number domain refuses the epoch-nanosecond integers the policies read.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
