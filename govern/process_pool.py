"""A bounded pool of warm worker processes that answer framed requests over pipes, so that work which can
blow up (a policy interpreter, a circuit parser, a simulator) only ever kills its own process.

Frames are a 4-byte big-endian length and a payload, both ways. The first request is the setup, a JSON
object; its `memory_bytes` and `cpu_s` are limits the child puts on itself before each later request (`serve`):
RLIMIT_DATA above what it holds at that moment, and RLIMIT_CPU above the CPU time it has used (a request that
starts with `+` continues the one before it, under the same limits). A child exits when its parent goes. The parent holds the wall-clock deadline: a child that has not answered
by then is killed, and its slot is filled by a fresh one. Replies start with a status byte: `R` (answered),
`E` (the handler raised; the message follows), `F` (a native panic; the child then exits), `M` (the request
ran past the memory cap; the child then exits), or a status of the program's own.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import select
import signal
import struct
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, BinaryIO

ANSWERED, OUT_OF_MEMORY, CRASHED, FATAL = b"R", b"M", b"E", b"F"
CONTINUATION = b"+"
STARTUP_S = 30.0
"""How long a worker process may take to start and set up; not counted against a call's deadline."""
_HEADER = struct.Struct(">I")


class PoolError(Exception):
    """A call got no answer; the message says why and holds nothing of the request."""


class CallTimeout(PoolError):
    """The call passed its deadline; its process was killed."""


class MemoryExceeded(PoolError):
    """The call ran past the memory cap; its process is gone."""


class ProcessDied(PoolError):
    """The process ended during the call (killed, crashed, or an allocation the cap refused inside native code)."""

    def __init__(self, message: str, returncode: int | None):
        super().__init__(message)
        self.returncode = returncode


class PoolBusy(PoolError):
    """No process was free within the call's timeout."""


class StartFailed(PoolError):
    """A process did not start or refused its setup."""


# The protocol, both sides.


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    return payload if len(payload) == size else None


# The child's side.


def data_bytes() -> int | None:
    """What this process holds as data (VmData), or None where /proc does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return int(status.read().split("VmData:", 1)[1].split()[0]) * 1024
    except (OSError, IndexError, ValueError):
        return None


def cap_memory(budget: int) -> int | None:
    """Let this process grow by at most `budget` bytes from now on, so a runaway allocation fails here instead
    of starving the machine; returns what it held when capped. The cap is on data (RLIMIT_DATA) above what the
    process holds: interpreters and native libraries start with much reserved, untouched address space. Only
    the soft limit moves, so the next request can be given its own budget."""
    import resource

    held = data_bytes() if budget > 0 else None
    if held is None:
        return None
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    resource.setrlimit(resource.RLIMIT_DATA, (held + budget if hard == resource.RLIM_INFINITY else min(hard, held + budget), hard))
    return held


def cap_cpu(seconds: float | None) -> None:
    """End this process with SIGXCPU once it has used `seconds` more CPU time (whole seconds, rounded up)."""
    import resource

    if not seconds:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(hard, soft), hard))


class StartRefused(Exception):
    """Raised by a child's `start` when its setup cannot be used; the parent gets the message."""


def serve(requests: BinaryIO, replies: BinaryIO, start: Callable[[dict[str, Any]], Callable[[bytes], bytes]]) -> None:
    """Set up from the first frame (`start` returns the request handler, or raises StartRefused), then answer
    frames until stdin closes (the parent is gone) or a request runs out of memory."""
    setup = read_frame(requests)
    if setup is None:
        return
    config = json.loads(setup)
    try:
        answer = start(config)
    except StartRefused as exc:
        _reply(replies, CRASHED + str(exc).encode())
        return
    _reply(replies, ANSWERED)
    _exit_with_parent(requests)
    budget, held, peak = config.get("memory_bytes", 0), None, 0
    while (request := read_frame(requests)) is not None:
        if request[:1] == CONTINUATION:
            request = request[1:]
        else:
            held, peak = cap_memory(budget), _peak_rss()
            cap_cpu(config.get("cpu_s"))
        try:
            reply = answer(request)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a bug, an odd input, or a native library's panic: say so
            if isinstance(exc, MemoryError) or _nearly_exhausted(held, peak, budget):
                _reply(replies, OUT_OF_MEMORY)
                return
            first_line = str(exc).splitlines()[0] if str(exc) else "no message"
            fatal = not isinstance(exc, Exception)  # a panic may leave native state broken: a fresh child takes over
            _reply(replies, (FATAL if fatal else CRASHED) + f"{exc.__class__.__name__}: {first_line}".encode())
            if fatal:
                return
            continue
        _reply(replies, reply)


def _exit_with_parent(requests: BinaryIO) -> None:
    """Exit as soon as the parent's end of the request pipe closes, even mid-request (a simulation in native
    code would otherwise run to its end for nobody)."""
    try:
        descriptor = requests.fileno()
    except (AttributeError, OSError, ValueError):  # not a pipe (a test's in-memory stream)
        return

    def watch() -> None:
        hangup = select.poll()
        hangup.register(descriptor, 0)  # no events asked for: poll still reports the hang-up
        while True:
            if hangup.poll():
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _nearly_exhausted(held: int | None, peak_before: int, budget: int) -> bool:
    """Whether a failed request had used most of its memory budget: native code reports a refused allocation
    in its own ways (a panic, a null pointer), not always as MemoryError."""
    if held is None:
        return False
    now = data_bytes()
    return (now is not None and now - held > budget * 0.9) or _peak_rss() - peak_before > budget * 0.9


def _reply(replies: BinaryIO, payload: bytes) -> None:
    replies.write(frame(payload))
    replies.flush()


def quiet_child() -> None:
    """What every child does first: Ctrl-C is the parent's to handle (it closes the pipe), and native
    libraries' prints on stderr go nowhere (the parent reports what happened)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)


# The parent's side.


class WorkerProcess:
    """One child process and its pipes; any call that goes wrong kills it."""

    def __init__(self, argv: list[str], setup: bytes, what: str, env: Mapping[str, str] | None = None):
        self.what = what
        self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         env=None if env is None else dict(env))
        try:
            status, message = self.call(setup, time.monotonic() + STARTUP_S)
        except CallTimeout:
            raise StartFailed(f"the {what} did not start within {STARTUP_S:g}s") from None
        except PoolError as exc:
            raise StartFailed(f"the {what} did not start: {exc}") from None
        if status != ANSWERED:
            self.kill()
            raise StartFailed(message.decode(errors="replace") or f"the {what} did not start")

    def call(self, request: bytes, deadline: float, *, continuing: bool = False) -> tuple[bytes, bytes]:
        """Send one frame and read the reply (status byte, payload) by the deadline; `continuing` keeps the
        limits of the call before (the same piece of work, in two steps)."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(frame(CONTINUATION + request if continuing else request))
            stdin.flush()
            header = self._read(stdout, 4, deadline)
            reply = self._read(stdout, int.from_bytes(header, "big"), deadline)
        except CallTimeout:
            raise
        except (OSError, ValueError):
            self.kill()
            raise ProcessDied(f"the {self.what} ended ({how_it_ended(self._process.returncode)})", self._process.returncode) from None
        if reply[:1] == OUT_OF_MEMORY:
            self.kill()
            raise MemoryExceeded(f"the {self.what} ran past its memory cap")
        if reply[:1] == FATAL:
            self.kill()
            raise ProcessDied(f"the {self.what} crashed ({reply[1:].decode(errors='replace')})", None)
        return reply[:1], reply[1:]

    def _read(self, stream: IO[bytes], size: int, deadline: float) -> bytes:
        chunks, wanted = [], size
        while wanted:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stream], [], [], left)[0]:
                self.kill()
                raise CallTimeout(f"the {self.what} did not answer in time and was killed")
            chunk = os.read(stream.fileno(), wanted)
            if not chunk:
                raise OSError("end of stream")
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    @property
    def process(self) -> subprocess.Popen[bytes]:
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


def how_it_ended(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        return f"killed by {name}" + (", as when it exhausts its memory budget" if name == "SIGABRT" else "")
    return f"exit code {returncode}"


class ProcessPool:
    """At most `size` worker processes, started on first use (or by `warm`); a dead one is replaced.

    A call waits for an idle process within its timeout, so runaways take capacity away but never add
    processes or memory without bound.
    """

    def __init__(self, argv: list[str], setup: dict[str, Any], size: int, *, memory_bytes: int, cpu_s: float | None = None,
                 what: str = "worker process", env: Mapping[str, str] | None = None):
        self._argv, self._what, self._env = argv, what, env
        self._setup = json.dumps({**setup, "memory_bytes": memory_bytes, "cpu_s": cpu_s}, sort_keys=True).encode()
        self._idle: queue.LifoQueue[WorkerProcess | None] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(None)
        self._closed = threading.Event()
        self._warmed = False
        # Closing, and also what becomes of a pool nobody closed once it is garbage: no process outlives it.
        self._stop = weakref.finalize(self, _kill_idle, self._idle)

    def call(self, request: bytes, timeout_s: float) -> tuple[bytes, bytes]:
        """One request to an idle process: its reply as (status, payload), or a PoolError."""
        with self.checkout(timeout_s) as worker:
            return worker.call(request, time.monotonic() + timeout_s)

    @contextlib.contextmanager
    def checkout(self, timeout_s: float) -> Iterator[WorkerProcess]:
        """A started process for the caller's exclusive use (several calls that share its state)."""
        try:
            worker = self._live_one(self._idle.get(timeout=timeout_s))
        except queue.Empty:
            raise PoolBusy(f"no {self._what} was free within {timeout_s:g}s") from None
        try:
            if worker is None or not worker.alive:
                worker = None
                worker = WorkerProcess(self._argv, self._setup, self._what, self._env)
            yield worker
        finally:
            self._release(worker)

    def _live_one(self, taken: WorkerProcess | None) -> WorkerProcess | None:
        """The slot taken, or in its place the most recently used idle process: a start costs what reuse does not."""
        if taken is not None:
            return taken
        with self._idle.mutex:
            slots = self._idle.queue
            for index in range(len(slots) - 1, -1, -1):
                if (slot := slots[index]) is not None and slot.alive:
                    slots[index], taken = None, slot
                    break
        return taken

    def warm(self, count: int | None = None) -> None:
        """Start processes now, in the background (all of them unless `count`), so the first calls do not
        wait for them; a process killed later is then replaced in the background too."""
        self._warmed = True
        for _ in range(min(count or self._idle.qsize(), self._idle.qsize())):
            threading.Thread(target=self._start_one, name="pool-start", daemon=True).start()

    def _start_one(self) -> None:
        try:
            worker = self._idle.get_nowait()
        except queue.Empty:
            return
        try:
            worker = worker if worker is not None and worker.alive else WorkerProcess(self._argv, self._setup, self._what, self._env)
        except StartFailed:
            worker = None
        self._release(worker, replace=False)

    def _release(self, worker: WorkerProcess | None, replace: bool = True) -> None:
        if self._closed.is_set() and worker is not None:
            worker.kill()
            worker = None
        alive = worker is not None and worker.alive
        self._idle.put(worker if alive else None)
        if replace and not alive and self._warmed and not self._closed.is_set():
            threading.Thread(target=self._start_one, name="pool-replace", daemon=True).start()

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The processes running now (idle ones; for tests and operators)."""
        return [w.process for w in list(self._idle.queue) if w is not None and w.alive]

    def close(self) -> None:
        self._closed.set()
        self._stop()


def _kill_idle(idle: queue.LifoQueue[WorkerProcess | None]) -> None:
    while True:
        try:
            worker = idle.get_nowait()
        except queue.Empty:
            return
        if worker is not None:
            worker.kill()
