"""Streamed exports that never pass for complete when they are not: the first record is read (every query
that can fail has run) before the 200 is sent, and a failure after it ends the stream with a visible error
record instead of a silently truncated body."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from itertools import chain
from typing import TypeVar

from fastapi.responses import StreamingResponse

log = logging.getLogger("govern.api")

Row = TypeVar("Row")


class JsonLines(StreamingResponse):
    """A stream of JSON Lines, so that the OpenAPI document names the media type."""

    media_type = "application/x-ndjson"


def prefetched(rows: Iterator[Row]) -> Iterator[Row]:
    """The same rows, the first already read: a failing query raises here, while a 4xx/503 can still be sent."""
    try:
        first = next(rows)
    except StopIteration:
        return iter(())
    return chain((first,), rows)


def jsonl_error(message: str) -> str:
    return json.dumps({"error": message}) + "\n"


def csv_error(message: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["error", message])
    return buffer.getvalue()


def streamed(lines: Iterator[str], media_type: str, error_line: Callable[[str], str], headers: dict[str, str] | None = None) -> StreamingResponse:
    """A 200 streaming `lines`; if producing them fails midway, the last line says so (and why, by kind)."""

    def guarded() -> Iterator[str]:
        try:
            yield from lines
        except Exception as exc:
            log.exception("export failed midway")
            yield error_line(f"the export failed before its end ({type(exc).__name__}); the records above are complete, the rest is missing")

    return StreamingResponse(guarded(), media_type=media_type, headers=headers)
