"""Every request bounded and exact before a route sees it: an ASGI middleware that refuses a body over
`max_request_bytes` (by its Content-Length, or as soon as a chunked body passes the limit, never reading
more), NUL bytes in the path or query, and JSON a database or policy engine could not hold exactly.

JSON is parsed by pydantic-core (jiter: a well-kept parser pydantic already brings, which keeps big integers
exact, refuses NaN/Infinity and lone surrogates, and stops at 200 levels); one iterative walk then refuses
what it lets through (`1e400` as inf, NUL in strings or keys, integers outside 64-bit signed, nesting over
MAX_DEPTH), naming the JSON pointer. When pydantic-core refuses, the stdlib parser (which reads what it
refused) finds the field for the message.

A body with a Content-Encoding (gzip) is refused (415) unless its path is one of `encoded_paths`: there it
is bounded here as sent and not parsed, and the endpoint that accepts the encoding decompresses it, bounds
the decompressed size itself, and validates the result (check_json is there for it). Without that, any
client could skip the strict parse by naming an encoding.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pydantic_core
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govern.errors import InputError, Problem
from govern.json_values import Flaw, ValueProblem, first_problem
from govern.manifest.documents import MAX_DEPTH, Locations, locate, parse_documents

INTEGER_RANGE = (-(2**63), 2**63 - 1)
"""The integers the database stores (BIGINT); anything beyond is refused, not rounded."""
RAW_BODY = "govern.raw_body"
"""Scope key under which the body, as received, is kept for routes that map errors to line:col."""


class Refused(Exception):
    """One thing wrong with a request: its status, where (an ASGI `loc`), and why."""

    def __init__(self, status: int, loc: list[str | int], message: str, kind: str = "value_error"):
        super().__init__(message)
        self.status, self.loc, self.message, self.kind = status, loc, message, kind

    def response(self) -> JSONResponse:
        """FastAPI's error shape; a 413 also closes the connection, so the rest of the body is never read."""
        headers = {"Connection": "close"} if self.status == 413 else None
        return JSONResponse({"detail": [{"type": self.kind, "loc": self.loc, "msg": self.message}]}, self.status, headers)


class BoundedBodies:
    """The middleware; installed outermost but for metrics, so no route ever reads an unbounded body."""

    def __init__(self, app: ASGIApp, max_bytes: int, encoded_paths: frozenset[str] = frozenset()):
        self.app, self.max_bytes, self.encoded_paths = app, max_bytes, encoded_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope)
            headers = Headers(scope=scope)
            encoded = headers.get("content-encoding", "identity").lower() != "identity"
            if encoded and scope["path"] not in self.encoded_paths:
                raise Refused(415, ["header", "content-encoding"], "this endpoint accepts no Content-Encoding; send the body as is")
            body = await self._read(headers, receive)
            if body and not encoded and _is_json(headers):
                check_json(body)
        except Refused as refused:
            await refused.response()(scope, receive, send)
            return
        scope[RAW_BODY] = body
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, headers: Headers, receive: Receive) -> bytes:
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Refused(400, ["header", "content-length"], "Content-Length is not a number")
            if int(declared) > self.max_bytes:
                raise _too_large(self.max_bytes)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b""  # the client went away; the route sees an empty body and its disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _too_large(self.max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _too_large(limit: int) -> Refused:
    return Refused(413, ["body"], f"the request body is over the {limit}-byte limit (GOVERN_MAX_REQUEST_BYTES)", "too_large")


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, as it came; then the client's own messages (its disconnect, for streaming routes)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _is_json(headers: Headers) -> bool:
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def check_target(scope: Scope) -> None:
    """No NUL in the path or in any query name or value (PostgreSQL cannot store one; nothing needs it)."""
    if "\x00" in scope["path"]:
        raise Refused(422, ["path"], "the path contains a NUL byte")
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                raise Refused(422, ["query", name.replace("\x00", "")], f"query parameter {name!r} contains a NUL byte")


def check_json(body: bytes) -> None:
    """Refuse JSON that cannot be held exactly; the message and `loc` name the field."""
    try:
        document, surrogates = pydantic_core.from_json(body, allow_inf_nan=False), False
    except ValueError as exc:
        document, surrogates = _lenient(body, str(exc)), True
    # lone surrogates are looked for only in what the stdlib read: pydantic-core refuses them itself
    problem = first_problem(document, max_depth=MAX_DEPTH, integer_range=INTEGER_RANGE, surrogates=surrogates)
    if problem is not None:
        pointer = list(problem.path)
        raise Refused(422, ["body", *pointer], f"{_message(problem)} at {_json_pointer(pointer)}")


class _Constant:
    """NaN or ±Infinity as the stdlib parser read them, kept so the walk can say where they stood."""

    def __init__(self, name: str):
        self.name = name


def _lenient(body: bytes, refusal: str) -> Any:
    """The document as the stdlib reads it, for naming the field pydantic-core refused; malformed JSON
    (which neither reads) is refused here, with its position."""
    try:
        return json.loads(body, parse_constant=_Constant)
    except RecursionError:
        raise Refused(422, ["body"], f"JSON is nested deeper than {MAX_DEPTH} levels", "json_invalid") from None
    except (ValueError, TypeError):
        raise Refused(422, ["body"], f"malformed JSON: {refusal}", "json_invalid") from None


def _message(problem: ValueProblem) -> str:
    what = "key" if problem.in_key else "string"
    match problem.flaw:
        case Flaw.TOO_DEEP:
            return f"nested deeper than {MAX_DEPTH} levels"
        case Flaw.NUL:
            return f"{what} contains a NUL byte"
        case Flaw.LONE_SURROGATE:
            return f"{what} contains a lone surrogate (not valid Unicode)"
        case Flaw.OUT_OF_RANGE:
            return f"integer outside {INTEGER_RANGE[0]} to {INTEGER_RANGE[1]} (what the database stores)"
        case Flaw.NOT_FINITE:
            return "number too large to hold (it overflows to infinity)"
        case _ if isinstance(problem.value, _Constant):
            return f"{problem.value.name} is not a number JSON allows"
        case _:
            return "not a JSON value"


def _json_pointer(path: list[str | int]) -> str:
    """RFC 6901: '~' and '/' in a key are escaped."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path) or "/"


def located_in_body(scope: Scope, error: InputError) -> InputError:
    """A manifest error placed at line:col of the request body that carried it: the service validates the
    manifest as parsed JSON, which has lost its positions, so they are read again from the body (its JSON is
    YAML too), only when there is an error to place. Errors about the circuit keep their own positions."""
    body = scope.get(RAW_BODY)
    if error.source != "manifest" or not body:
        return error
    locations = _body_locations(body)
    if locations is None:
        return error
    problems = []
    for problem in error.problems:
        path = ".".join(("manifest", problem.field)).removesuffix(".(document)")
        if problem.field == "circuit":  # the body's own field; when it is missing, the manifest's circuit that needs it
            path = "circuit" if "circuit" in locations else "manifest.spec.circuit"
        line, column = locate(locations, path)
        problems.append(Problem(problem.message, problem.field, line, column))
    return InputError(error.source, problems)


def _body_locations(body: bytes) -> Locations | None:
    try:
        (document,) = parse_documents(body.decode("utf-8"), "body")
    except (InputError, ValueError):
        return None
    return document.locations
