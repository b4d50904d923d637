"""The embedded engine: the regorus interpreter (PyPI `gordon-to-regorus`, pinned), in evaluator processes.

regorus raises where a built-in fails, so it fails closed by itself; its compiled RVM mode answers
*undefined* instead (it fails open) and is never used. It holds the GIL for a whole evaluation and cannot be
interrupted, so evaluations run in a small pool of evaluator processes (`evaluator.py`), each loading the
bundle once: one that overruns the timeout is killed and replaced, and the decision is denied.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import regorus

from govern.canonical import canonical_json
from govern.policy.bundle import PolicyBundle
from govern.policy.check import require_supported
from govern.policy.engines import EngineError, PolicyEngine
from govern.policy.engines.evaluator import RESULT, UNDEFINED, frame, load, regorus_message

DEFAULT_MEMORY_BYTES = 1 << 30
STARTUP_S = 30.0
"""How long an evaluator process may take to start and load the bundle; not counted against a decision's timeout."""
EVALUATOR_PROGRAM = Path(__file__).with_name("evaluator.py")


def load_engine(bundle: PolicyBundle, *, tests: bool = False) -> regorus.Engine:
    """A regorus engine in this process holding the bundle's modules (test modules too, when asked) and data."""
    modules = bundle.modules if tests else bundle.policy_modules
    try:
        return load([(m.path, m.source) for m in modules], bundle.data_json)
    except RuntimeError as exc:
        raise EngineError(f"the policy bundle does not load:\n{regorus_message(exc)}") from None


class RegorusEngine(PolicyEngine):
    """The bundle, evaluated by a pool of evaluator processes under a timeout."""

    name = "embedded"

    def __init__(
        self,
        bundle: PolicyBundle,
        timeout_s: float = 5.0,
        workers: int | None = None,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ):
        require_supported(bundle)
        load_engine(bundle)
        self._bundle = bundle
        self._timeout_s = timeout_s
        setup = {"modules": [[m.path, m.source] for m in bundle.policy_modules], "data": bundle.data_json}
        self._pool = EvaluatorPool(canonical_json({**setup, "memory_bytes": memory_bytes}), workers or os.cpu_count() or 2)

    @property
    def bundle_revision(self) -> str:
        return self._bundle.revision

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    @property
    def catalogue(self) -> dict[str, dict[str, Any]]:
        return self._bundle.catalogue

    def warm(self) -> None:
        """Start the evaluator processes in the background (the service and `govern check` will need them)."""
        self._pool.warm()

    def query(self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes) -> Any:
        if entrypoint not in self._bundle.entrypoints:
            raise EngineError(f"the policy bundle has no {entrypoint} entrypoint")
        return json.loads(self._pool.query(entrypoint, canonical, self._timeout_s))

    def close(self) -> None:
        """Stop the evaluators once they are idle (a swapped-out engine may still be mid-request)."""
        self._pool.close()


class Evaluator:
    """One evaluator process and its pipes."""

    def __init__(self, setup: bytes):
        # A script, not `-m`: importing govern's packages would cost most of its start; `-P` keeps its folder off sys.path.
        self._process = subprocess.Popen(
            [sys.executable, "-P", str(EVALUATOR_PROGRAM)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            status, message = self._exchange(setup, time.monotonic() + STARTUP_S)
        except TimeoutError:
            raise EngineError(f"the evaluator process did not start within {STARTUP_S:g}s") from None
        if status != RESULT:
            self.kill()
            raise EngineError(message or "the evaluator process did not start")

    def query(self, entrypoint: str, canonical: bytes, deadline: float) -> str:
        status, payload = self._exchange(entrypoint.encode() + b"\n" + canonical, deadline)
        if status == RESULT:
            return payload
        if status == UNDEFINED:
            raise EngineError(f"entrypoint {entrypoint} is undefined for this input")
        raise EngineError(payload)

    def _exchange(self, request: bytes, deadline: float) -> tuple[bytes, str]:
        """Send one frame and read the reply by the deadline; a late or broken reply kills the process."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(frame(request))
            stdin.flush()
            header = self._read(stdout, 4, deadline)
            reply = self._read(stdout, int.from_bytes(header, "big"), deadline)
        except TimeoutError:
            raise
        except (OSError, ValueError):
            self.kill()
            raise EngineError(f"the evaluator process ended ({_how_it_ended(self._process.returncode)})") from None
        return reply[:1], reply[1:].decode()

    def _read(self, stream, size: int, deadline: float) -> bytes:
        chunks, wanted = [], size
        while wanted:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stream], [], [], left)[0]:
                self.kill()
                raise TimeoutError
            chunk = os.read(stream.fileno(), wanted)
            if not chunk:
                raise OSError("end of stream")
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    @property
    def process(self) -> subprocess.Popen:
        return self._process

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


def _how_it_ended(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        return f"killed by {name}" + (", as when it exhausts its memory budget" if name == "SIGABRT" else "")
    return f"exit code {returncode}"


class EvaluatorPool:
    """At most `size` evaluator processes, started on first use; a dead one is replaced on the next query.

    A query waits for an idle evaluator within its timeout, so runaways take capacity away but never add
    processes or memory without bound.
    """

    def __init__(self, setup: bytes, size: int):
        self._setup = setup
        self._idle: queue.LifoQueue[Evaluator | None] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(None)
        self._closed = threading.Event()
        # Closing, and also what becomes of a pool nobody closed once it is garbage: no process outlives it.
        self._stop = weakref.finalize(self, _kill_idle, self._idle)

    def query(self, entrypoint: str, canonical: bytes, timeout_s: float) -> str:
        try:
            evaluator = self._idle.get(timeout=timeout_s)
        except queue.Empty:
            raise EngineError(f"no evaluator was free within {timeout_s:g}s") from None
        try:
            if evaluator is None or not evaluator.alive:
                evaluator = Evaluator(self._setup)
            return evaluator.query(entrypoint, canonical, time.monotonic() + timeout_s)
        except TimeoutError:
            raise EngineError(f"evaluation did not finish within {timeout_s:g}s") from None
        finally:
            self._release(evaluator)

    def warm(self) -> None:
        """Start the evaluators now, in the background, so that the first decisions do not wait for them."""
        for _ in range(self._idle.qsize()):
            threading.Thread(target=self._start_one, name="evaluator-start", daemon=True).start()

    def _start_one(self) -> None:
        try:
            evaluator = self._idle.get_nowait()
        except queue.Empty:
            return
        try:
            evaluator = evaluator if evaluator is not None and evaluator.alive else Evaluator(self._setup)
        except EngineError:
            evaluator = None
        self._release(evaluator)

    def _release(self, evaluator: Evaluator | None) -> None:
        if self._closed.is_set() and evaluator is not None:
            evaluator.kill()
            evaluator = None
        self._idle.put(evaluator if evaluator is not None and evaluator.alive else None)

    def processes(self) -> list[subprocess.Popen]:
        """The evaluator processes running now (idle ones; for tests and operators)."""
        return [e.process for e in list(self._idle.queue) if e is not None and e.alive]

    def close(self) -> None:
        self._closed.set()
        self._stop()


def _kill_idle(idle: queue.LifoQueue[Evaluator | None]) -> None:
    while True:
        try:
            evaluator = idle.get_nowait()
        except queue.Empty:
            return
        if evaluator is not None:
            evaluator.kill()
