"""A real `govern serve` process on a loopback port, for tests that need real HTTP between processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_service(
    database_url: str, *, port: int | None = None, env: Mapping[str, str] | None = None, log: IO[bytes] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Start `govern serve --migrate` (and `args`) on the database, wait until it is ready, yield its URL, stop
    it; `log` receives its stdout and stderr (the access log among them)."""
    with serving(database_url, port=port, env=env, log=log, args=args) as (url, _):
        yield url


@contextmanager
def serving(
    database_url: str, *, port: int | None = None, env: Mapping[str, str] | None = None, log: IO[bytes] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`running_service`, also yielding the process (its pid, for memory readings). One server process unless
    `args` name `--workers`: the tests of several processes ask for them, and the rest stay fast and read
    the memory of the process that serves."""
    port = port or free_port()
    if "--workers" not in args:
        args = ("--workers", "1", *args)
    environment = {**os.environ, "GOVERN_DATABASE_URL": database_url, **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "govern", "serve", "--port", str(port), "--migrate", *args], env=environment,
                               stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("govern serve did not become ready")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for(condition, timeout_s: float = 60.0, what: str = "condition"):
    """Poll until `condition()` returns something truthy, and return it."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)
