"""The HTTP protocol `govern serve` runs: uvicorn's httptools protocol with the request head bounded.

httptools gathers a header's value in memory until the header ends, so a 100 MB Authorization header would
be held whole before any ASGI code could refuse it. Here the bytes of the request line and headers are
counted as they arrive, and past the limit the connection is answered 431 and closed: nothing more is read.
The limit is uvicorn's `h11_max_incomplete_event_size`, which bounds the same thing for the h11 protocol.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_MAX_HEADER_BYTES = 65_536


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Counts the bytes fed to the parser from the end of one message (or the connection's start) until the
    next message's headers are complete."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_head_bytes = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES
        self.head_bytes = 0
        self.in_head = True

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.head_bytes, self.in_head = 0, True
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        """Feed the parser no more of a head than the limit allows; the rest of a chunk goes as it came."""
        while self.in_head and data:
            room = self.max_head_bytes - self.head_bytes
            if room <= 0:
                self._refuse_head()
                return
            piece, data = data[:room], data[room:]
            self.head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
        if data:
            super().data_received(data)

    def _refuse_head(self) -> None:
        body = json.dumps(
            {"detail": [{"type": "too_large", "loc": ["header"], "msg": f"request headers are over the {self.max_head_bytes}-byte limit (GOVERN_MAX_HEADER_BYTES)"}]}
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            + b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()


WORKER_HEALTHCHECK_S = 30
"""How long uvicorn's supervisor waits for a server process to answer its health check before it kills and
replaces it. A new process answers only once it has imported govern (seconds on a busy machine); at
uvicorn's default of 5 s a loaded host kills every process before it starts, over and over."""


def serve(app: Any, *, host: str, port: int, workers: int, max_header_bytes: int) -> None:
    """uvicorn with the bounded protocol; an app given as an import string runs in `workers` processes."""
    import uvicorn

    uvicorn.run(
        app, factory=isinstance(app, str), host=host, port=port, workers=workers if isinstance(app, str) else None,
        log_level="info", http=BoundedHttpToolsProtocol, h11_max_incomplete_event_size=max_header_bytes,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )
