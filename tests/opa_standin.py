"""A loopback stand-in for an OPA server: no OPA binary can be installed here.

It speaks the part of OPA's Data API the remote engine uses (`POST /v1/data/<path>?provenance=true` with
`{"input": ...}` → `{"result": ..., "decision_id": ..., "provenance": {"version", "bundles": {name: {"revision"}}}}`)
over real HTTPS, evaluating with the embedded engine over the same bundle, and can be told to misbehave so
the remote engine's fail-closed paths are exercised.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from govern.canonical import canonical_json
from govern.policy.engines.embedded import RegorusEngine


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, failed TLS handshakes) are part of the tests, not errors."""


class OpaStandIn:
    def __init__(self, engine: RegorusEngine, ssl_context: ssl.SSLContext | None, bundle_name: str = "govern"):
        self.engine = engine
        self.mode = "ok"
        self.bundles = {bundle_name: {"revision": engine.bundle.manifest_revision}}
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                standin.requests.append({"path": self.path, "body": body})
                standin.headers.append(dict(self.headers))
                standin.respond(self, body)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.server.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def respond(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if self.mode == "slow":
            time.sleep(1.0)
        if self.mode == "error":
            send_json(handler, 500, {"code": "internal_error", "message": "boom"})
        elif self.mode == "garbage":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.end_headers()
            handler.wfile.write(b"<html>not json")
        elif self.mode == "undefined":
            send_json(handler, 200, {"decision_id": str(uuid.uuid4())})
        elif self.mode == "wrong-shape":
            send_json(handler, 200, {"result": {"allow": True}, "decision_id": str(uuid.uuid4()), "provenance": self.provenance})
        else:
            path, _, query = handler.path.removeprefix("/v1/data/").partition("?")
            canonical = canonical_json(body["input"])
            answer: dict[str, Any] = {"result": self.engine.query(path, body["input"], canonical), "decision_id": str(uuid.uuid4())}
            if "provenance=true" in query:
                answer["provenance"] = self.provenance
            send_json(handler, 200, answer)

    @property
    def provenance(self) -> dict[str, Any]:
        return {"version": "stand-in", "bundles": self.bundles}

    def __enter__(self) -> OpaStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
