"""What the adversarial suite measures around each attack: a live service's memory and liveness, a CLI
child's peak memory and exit, all on Linux's /proc (the machine the suite runs on)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_mib(pid: int) -> float:
    """Resident memory of one process, in MiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_KIB / 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


@dataclass
class Watch:
    """Peak RSS of the service process and every /healthz answer while an attack runs."""

    pid: int
    url: str
    peak_mib: float = 0.0
    health_failures: list[str] = field(default_factory=list)
    health_answers: int = 0


@contextmanager
def watched(pid: int, url: str, interval_s: float = 0.25) -> Iterator[Watch]:
    """Sample the service's RSS and ask /healthz (2 s timeout) every interval while the block runs."""
    watch = Watch(pid, url, rss_mib(pid))
    stop = threading.Event()

    def sample() -> None:
        with httpx.Client(timeout=2.0) as client:
            while not stop.is_set():
                watch.peak_mib = max(watch.peak_mib, rss_mib(pid))
                try:
                    answer = client.get(f"{url}/healthz")
                    if answer.status_code == 200:
                        watch.health_answers += 1
                    else:
                        watch.health_failures.append(f"/healthz {answer.status_code}")
                except httpx.HTTPError as exc:
                    watch.health_failures.append(f"/healthz {exc.__class__.__name__}")
                stop.wait(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield watch
    finally:
        stop.set()
        sampler.join(timeout=5)
        watch.peak_mib = max(watch.peak_mib, rss_mib(pid))


@dataclass(frozen=True)
class CliRun:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mib: float


def run_cli(*args: str, cwd: Path, timeout_s: float = 60.0, env: dict[str, str] | None = None) -> CliRun:
    """Run `python -m govern ARGS`: exit code, output, wall time and the child's own peak RSS (from wait4,
    which Popen.communicate would hide by reaping the child first)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "govern", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    output: dict[str, bytes] = {}

    def drain(name: str, stream) -> None:
        output[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(name, stream), daemon=True)
               for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))]
    for reader in readers:
        reader.start()
    killer = threading.Timer(timeout_s, process.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=10)
    return CliRun(process.returncode, output.get("stdout", b"").decode(errors="replace"),
                  output.get("stderr", b"").decode(errors="replace"), time.monotonic() - started,
                  usage.ru_maxrss / 1024)
