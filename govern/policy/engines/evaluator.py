"""An evaluator process: one regorus engine that answers queries over a pipe, so that it can be killed.

regorus holds the GIL for a whole evaluation and cannot be interrupted, so a runaway evaluation inside the
service or `govern check` would stall every thread until it ended. In a process of its own it is killed at
the timeout instead; the process also caps its memory, so an evaluation that allocates without bound fails
here and is denied there.

Frames on stdin/stdout are a 4-byte big-endian length and a payload. The first request carries the bundle
(`{"modules": [[path, source], …], "data": "<json>", "memory_bytes": n}`); each later one an entrypoint, a
newline and the canonical JSON input. Replies start with a status byte: `R` and the result's JSON, `U` for an
undefined result, `E` and a message. Only the standard library and regorus are imported here, so the process
starts in a few tens of milliseconds.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
from typing import BinaryIO

import regorus

RESULT, UNDEFINED, ERROR = b"R", b"U", b"E"
_BACKTRACE = "\n\nStack backtrace:"
_UNDEFINED_JSON = '"<undefined>"'
"""What `eval_rule_as_json` answers for an undefined rule."""
_HEADER = struct.Struct(">I")


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


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    return payload if len(payload) == size else None


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


def _answer(base: regorus.Engine, request: bytes) -> bytes:
    entrypoint, _, canonical = request.partition(b"\n")
    try:
        text = evaluate(base, canonical, entrypoint.decode())
    except RuntimeError as exc:
        return ERROR + regorus_message(exc).encode()
    return UNDEFINED if text is None else RESULT + text.encode()


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Load the bundle from the first frame, then answer frames until stdin closes (the parent is gone)."""
    setup = read_frame(requests)
    if setup is None:
        return
    bundle = json.loads(setup)
    try:
        base = load([(path, source) for path, source in bundle["modules"]], bundle["data"])
        _cap_memory(bundle["memory_bytes"])
        replies.write(frame(RESULT))
    except RuntimeError as exc:
        replies.write(frame(ERROR + f"the policy bundle does not load:\n{regorus_message(exc)}".encode()))
        return
    finally:
        replies.flush()
    while (request := read_frame(requests)) is not None:
        try:
            reply = _answer(base, request)
        except BaseException as exc:  # a panic (PanicException): say so, and go on from a fresh engine
            first_line = str(exc).splitlines()[0] if str(exc) else "no message"
            reply = ERROR + f"the engine crashed ({exc.__class__.__name__}: {first_line})".encode()
            base = load([(path, source) for path, source in bundle["modules"]], bundle["data"])
        replies.write(frame(reply))
        replies.flush()


def _cap_memory(budget: int) -> None:
    """Let this process grow by at most `budget` bytes, so a runaway allocation ends it instead of starving
    the machine. The cap is on data (RLIMIT_DATA) above what the process already holds: the interpreter and
    regorus start with about a gigabyte of reserved, untouched address space."""
    import resource

    if budget <= 0:
        return
    try:
        status = open("/proc/self/status", encoding="ascii").read()
        held = int(status.split("VmData:", 1)[1].split()[0]) * 1024
    except (OSError, IndexError, ValueError):
        return
    resource.setrlimit(resource.RLIMIT_DATA, (held + budget, held + budget))


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes the pipe
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # regorus prints panics; the parent reports them
    serve(sys.stdin.buffer, sys.stdout.buffer)
