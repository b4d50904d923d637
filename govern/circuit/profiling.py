"""Circuit profiling in warm, killable processes: a circuit that exhausts memory or time kills only its child.

Qiskit's parsers allocate what a circuit declares before any limit can look at the result, and run in
native code that cannot be interrupted; in-process, one hostile circuit could take the CLI or the service
down. Each child imports Qiskit once (on its main thread, as `load_parsers` needs) and calls
`govern.circuit.profile_qasm` per request. Requests are pickled (parent to child only: the parent is the
trusted side); replies are JSON, so nothing the child says can run code here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govern.circuit import CircuitLimits, CircuitProfile
from govern.errors import InputError, Problem
from govern.process_pool import CallTimeout, MemoryExceeded, PoolError, ProcessDied, ProcessPool, StartRefused

if TYPE_CHECKING:
    from govern.settings import Settings

PROFILED, INVALID = b"R", b"I"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_BYTES = 1 << 30
DEFAULT_CACHE_BYTES = 32 << 20


class ProfilingRefused(InputError):
    """The circuit was refused because profiling it ran past a limit (the same circuit always will)."""


class ProfilingUnavailable(InputError):
    """No profiling process could take the circuit (all busy, or none starts): nothing about the circuit."""


class Profiler:
    """A pool of profiling processes under one deadline and one memory cap."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, memory_bytes: int = DEFAULT_MEMORY_BYTES, size: int | None = None):
        self.timeout_s, self.memory_bytes = timeout_s, memory_bytes
        # `-P` keeps the working folder off sys.path; PYTHONPATH and the installed govern stay.
        self._pool = ProcessPool([sys.executable, "-P", "-m", "govern.circuit.profiling"], {}, size or os.cpu_count() or 2,
                                 memory_bytes=memory_bytes, cpu_s=timeout_s, what="circuit profiling process")

    def profile(self, text: str, source: str, limits: CircuitLimits, include_dir: Path | None = None, **options: Any) -> CircuitProfile:
        """`profile_qasm` in a child: its profile, its InputError, or an InputError saying which limit was hit."""
        request = pickle.dumps((text, source, limits, include_dir, options), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            status, payload = self._pool.call(request, self.timeout_s)
        except CallTimeout:
            raise ProfilingRefused(source, f"circuit profiling exceeded its deadline ({self.timeout_s:g} s); the circuit is refused") from None
        except MemoryExceeded:
            raise ProfilingRefused(source, f"circuit profiling exceeded its memory cap ({self.memory_bytes >> 20} MB); the circuit is refused") from None
        except ProcessDied as exc:
            if exc.returncode == -signal.SIGXCPU:  # its own CPU cap ended it
                raise ProfilingRefused(source, f"circuit profiling exceeded its deadline ({self.timeout_s:g} s of CPU); the circuit is refused") from None
            raise ProfilingRefused(
                source, f"circuit profiling exceeded its memory cap ({self.memory_bytes >> 20} MB) or crashed: {exc}; the circuit is refused"
            ) from None
        except PoolError as exc:
            raise ProfilingUnavailable(source, f"circuit profiling is unavailable: {exc}") from None
        if status == PROFILED:
            return CircuitProfile.model_validate_json(payload)
        if status == INVALID:
            error = json.loads(payload)
            raise InputError(error["source"], [Problem(**problem) for problem in error["problems"]])
        raise InputError(source, f"circuit profiling failed ({payload.decode(errors='replace')})")

    def warm(self) -> None:
        self._pool.warm()

    def processes(self) -> list[subprocess.Popen[bytes]]:
        return self._pool.processes()

    def close(self) -> None:
        self._pool.close()


class ProfileCache:
    """Profiles (and refusals) of circuits already seen, least recently used first out, bounded in bytes.

    An entry is charged the size of its circuit's text (which it does not keep: the key is a digest) plus a
    fixed overhead, so the bound holds however many distinct circuits arrive. Written here because
    the LRUs at hand (functools, cachetools) bound entries by count, or are not a dependency.
    """

    ENTRY_OVERHEAD = 2048

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, tuple[CircuitProfile | InputError, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str, include_dir: Path | None, root: Path | None = None) -> tuple[bytes, int]:
        """The digest of the circuit, its include folder and the tree its includes must stay in (one circuit
        may be refused under one root and allowed under another), and the circuit's size in bytes."""
        encoded = text.encode(errors="surrogatepass")
        digest = hashlib.sha256(encoded)
        for folder in (include_dir, root):
            digest.update(b"\0" + str(folder).encode(errors="surrogatepass"))
        return digest.digest(), len(encoded)

    def get(self, key: bytes) -> CircuitProfile | InputError | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: bytes, size: int, value: CircuitProfile | InputError) -> None:
        cost = size + self.ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (value, cost)
            self._bytes += cost
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


_shared: dict[tuple[float, int, int | None], Profiler] = {}
_shared_lock = threading.Lock()


def shared_profiler(timeout_s: float = DEFAULT_TIMEOUT_S, memory_bytes: int = DEFAULT_MEMORY_BYTES, size: int | None = None) -> Profiler:
    """One warm pool per process and configuration: checkers come and go (a bundle reload builds a new one),
    the Qiskit imports of their children should not."""
    key = (timeout_s, memory_bytes, size)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Profiler(timeout_s, memory_bytes, size)
            _shared[key].warm()
        return _shared[key]


def profiling_options(settings: Settings) -> dict[str, Any]:
    """The Checker's profiler and cache size, as configured."""
    profiler = shared_profiler(settings.profile_timeout_s, settings.profile_memory_mb << 20, settings.workers)
    return {"profiler": profiler, "profile_cache_bytes": settings.profile_cache_bytes}


def _start(_setup: dict[str, Any]) -> Callable[[bytes], bytes]:
    from govern import circuit

    try:
        circuit.load_parsers()
    except ImportError as exc:
        raise StartRefused(f"Qiskit's OpenQASM parsers do not import: {exc}") from None

    def answer(request: bytes) -> bytes:
        text, source, limits, include_dir, options = pickle.loads(request)
        try:
            profile = circuit.profile_qasm(text, source, limits, include_dir, **options)
        except InputError as exc:
            problems = [dataclasses.asdict(problem) for problem in exc.problems]
            return INVALID + json.dumps({"source": exc.source, "problems": problems}).encode()
        except RecursionError:
            return INVALID + json.dumps({"source": source, "problems": [{"message": "circuit is nested too deeply to profile"}]}).encode()
        return PROFILED + profile.model_dump_json(by_alias=True).encode()

    return answer


if __name__ == "__main__":
    from govern import process_pool

    process_pool.quiet_child()
    process_pool.serve(sys.stdin.buffer, sys.stdout.buffer, _start)
