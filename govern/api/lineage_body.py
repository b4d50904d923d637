"""Reading a posted OpenLineage event: plain or gzip-encoded (the client's `compression: gzip`), and JSON
held to the strict rules the rest of the service applies, on the decompressed text.

The raw body is already bounded by the service's request limit (`bodies.BoundedBodies`, which lets an
encoded body through on this path only); the decompressed body is bounded by the same limit while it is
decompressed (zlib's `max_length`), so a small gzip bomb never inflates in memory.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from fastapi import HTTPException, Request, status

from govern.api.bodies import Refused, check_json

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # the gzip wrapper, not raw deflate or zlib's


def decompressed(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body as sent before its Content-Encoding; 413 past `limit` bytes, 400 for a broken stream."""
    codings = [part.strip().lower() for part in encoding.split(",") if part.strip() and part.strip().lower() != "identity"]
    if not codings:
        return raw
    if codings != ["gzip"] and codings != ["x-gzip"]:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"Content-Encoding {encoding[:100]!r} is not supported; send gzip or none")
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"the gzip body is corrupt: {exc}") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"the decompressed body is larger than {limit} bytes")
    if not inflater.eof or inflater.unused_data:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the gzip body is truncated or followed by other data")
    return body


def strict_json(body: bytes) -> Any:
    """The body as JSON, held to the rules the service's body middleware applies to every plain JSON body
    (`bodies.check_json`): it cannot see inside an encoded body, and a body not labelled JSON skips it."""
    try:
        check_json(body)
    except Refused as refused:
        raise HTTPException(refused.status, [{"type": refused.kind, "loc": refused.loc, "msg": refused.message}]) from None
    return json.loads(body)


async def read_event(request: Request, limit: int) -> Any:
    """The posted event, decoded."""
    raw = await request.body()
    return strict_json(decompressed(raw, request.headers.get("content-encoding", ""), limit))
