"""An evaluator process: one regorus engine that answers queries over a pipe, so that it can be killed.

regorus holds the GIL for a whole evaluation and cannot be interrupted, so a runaway evaluation inside the
service or `govern check` would stall every thread until it ended. In a process of its own it is killed at
the timeout instead; the process also caps its memory, so an evaluation that allocates without bound fails
here and is denied there.

Frames on stdin/stdout are a 4-byte big-endian length and a payload. The first request carries the bundle
(`{"modules": [[path, source], …], "data": "<json>", "memory_bytes": n}`); each later one an entrypoint, a
newline and the canonical JSON input. Replies start with a status byte: `R` and the result's JSON, `U` for an
undefined result, `E` and a message (`govern.process_pool` runs the loop and the limits). A batch request is
`*`, the entrypoint, a newline and one frame per canonical input; it is answered `R` and one frame per input,
in order, each the reply that input alone would get (replaying history costs one round trip per batch). Only the standard
library, regorus and that module are imported here, so the process starts in a few tens of milliseconds.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import regorus

from govern import process_pool
from govern.process_pool import StartRefused, frame, read_frame  # noqa: F401 - the protocol, as tests and the pool speak it

RESULT, UNDEFINED, ERROR = process_pool.ANSWERED, b"U", process_pool.CRASHED
BATCH = b"*"
_BACKTRACE = "\n\nStack backtrace:"
_UNDEFINED_JSON = '"<undefined>"'
"""What `eval_rule_as_json` answers for an undefined rule."""


def regorus_message(error: BaseException) -> str:
    """regorus's `--> file:line:col … error: …` text, without the Rust backtrace it appends."""
    return str(error).split(_BACKTRACE, 1)[0].strip()


def load(modules: list[tuple[str, str]], data_json: str) -> regorus.Engine:
    """A regorus engine holding the modules and the data document, prepared; RuntimeError if they do not load.

    regorus analyses the policies on an engine's first evaluation and clones carry that analysis along; a
    clone of an engine that never evaluated repeats it every time, which costs two thirds of a decision.
    """
    engine = regorus.Engine()
    engine.set_gather_prints(True)
    for path, source in modules:
        engine.add_policy(path, source)
    engine.add_data_json(data_json)
    engine.set_input_json("{}")
    engine.eval_query_as_json("true")
    return engine


def evaluate(base: regorus.Engine, canonical: bytes, entrypoint: str) -> str | None:
    """The entrypoint's value for the input as JSON, on a fresh clone of `base`; None when undefined.

    A clone per evaluation (about 1 µs) leaves nothing of one input behind for the next.
    """
    engine = base.clone()
    engine.set_input_json(canonical.decode())
    text = engine.eval_rule_as_json("data." + entrypoint.replace("/", "."))
    return None if text == _UNDEFINED_JSON else text


def batch_request(entrypoint: str, canonicals: list[bytes]) -> bytes:
    """One request that asks for the entrypoint's value for each input, answered in one reply."""
    return BATCH + entrypoint.encode() + b"\n" + b"".join(frame(canonical) for canonical in canonicals)


def split_frames(payload: bytes) -> list[bytes] | None:
    """The frames a batch request or reply holds, or None where they do not add up exactly."""
    stream, frames = io.BytesIO(payload), []
    while stream.tell() < len(payload):
        if (part := read_frame(stream)) is None:
            return None
        frames.append(part)
    return frames


def _answer(base: regorus.Engine, request: bytes) -> bytes:
    entrypoint, _, canonical = request.partition(b"\n")
    try:
        text = evaluate(base, canonical, entrypoint.decode())
    except RuntimeError as exc:
        return ERROR + regorus_message(exc).encode()
    return UNDEFINED if text is None else RESULT + text.encode()


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Load the bundle from the first frame, then answer frames until stdin closes (the parent is gone)."""
    process_pool.serve(requests, replies, _start)


def _start(bundle: dict[str, Any]) -> Callable[[bytes], bytes]:
    modules = [(path, source) for path, source in bundle["modules"]]
    try:
        engine = {"base": load(modules, bundle["data"])}
    except RuntimeError as exc:
        raise StartRefused(f"the policy bundle does not load:\n{regorus_message(exc)}") from None

    def answer(request: bytes) -> bytes:
        if request[:1] != BATCH:
            return answer_one(request)
        entrypoint, _, inputs = request[1:].partition(b"\n")
        canonicals = split_frames(inputs)
        if canonicals is None:
            return ERROR + b"the batch request is not a sequence of frames"
        return RESULT + b"".join(frame(answer_one(entrypoint + b"\n" + canonical)) for canonical in canonicals)

    def answer_one(request: bytes) -> bytes:
        try:
            return _answer(engine["base"], request)
        except MemoryError:
            raise
        except BaseException as exc:  # a panic (PanicException): say so, and go on from a fresh engine
            first_line = str(exc).splitlines()[0] if str(exc) else "no message"
            engine["base"] = load(modules, bundle["data"])
            return ERROR + f"the engine crashed ({exc.__class__.__name__}: {first_line})".encode()

    return answer


if __name__ == "__main__":
    process_pool.quiet_child()
    serve(sys.stdin.buffer, sys.stdout.buffer)
