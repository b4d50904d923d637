"""Load generators for the service benchmark: wrk (a separate process, closed loop) for throughput at
saturation, and an open-loop generator for latency at a fixed rate.

Debian's wrk 4 has no constant-rate mode (wrk2's `-R` is not packaged), and a closed loop understates latency
under load (coordinated omission): a slow answer delays the requests behind it, which are then never counted
as late. The open-loop generator sends on a fixed schedule whatever the answers do, and measures each request
from the moment the schedule said it should go.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from measure import percentile

LUA_SCRIPT = Path(__file__).with_name("post.lua")
WRK_INSTALL = "apt-get install -y wrk"


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def find_wrk(install: bool) -> str | None:
    """wrk's path; with `install`, as root on Debian, install the package when it is missing."""
    if (found := shutil.which("wrk")) or not install or not shutil.which("apt-get"):
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return shutil.which("wrk")


def wrk(binary: str, url: str, token: str, bodies: list[Path], *, clients: int, seconds: float, idempotent: bool) -> Load:
    """Closed loop: `clients` keep-alive connections on one wrk thread, each sending as soon as it has its answer."""
    command = [binary, "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "60s", "--latency", "-s", str(LUA_SCRIPT), url,
               "--", token, "1" if idempotent else "0", *map(str, bodies)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    return Load(figures["requests"], figures["duration_us"] / 1e6, figures["p50_us"] / 1000, figures["p99_us"] / 1000,
                figures["socket_errors"] + figures["unexpected_status"])


def open_loop(url: str, token: str, bodies: list[bytes], *, rate: float, seconds: float, idempotent: bool, connections: int = 64) -> Load:
    """Send `rate` requests a second on a fixed schedule for `seconds` over up to `connections` keep-alive
    connections; each latency runs from the request's scheduled time (a request waiting for a free connection
    is late, and counted so)."""
    return asyncio.run(_open_loop(url, token, bodies, rate, seconds, idempotent, connections))


async def _open_loop(url: str, token: str, bodies: list[bytes], rate: float, seconds: float, idempotent: bool, connections: int) -> Load:
    parsed = urlsplit(url)
    head = (f"POST {parsed.path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n").encode()
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(None)  # a slot; the connection is opened on first use
    latencies: list[float] = []
    errors = 0

    async def one(index: int, scheduled: float) -> None:
        nonlocal errors
        connection = await idle.get()
        body = bodies[index % len(bodies)]
        key = f"Idempotency-Key: {uuid.uuid4().hex}\r\n".encode() if idempotent else b""
        request = head + key + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        try:
            connection = connection or await asyncio.open_connection(parsed.hostname, parsed.port)
            status, keep_alive = await _exchange(*connection, request)
            errors += status not in (200, 201)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors, keep_alive = errors + 1, False
        latencies.append((time.perf_counter() - scheduled) * 1000)
        if not keep_alive and connection:
            connection[1].close()
            connection = None
        idle.put_nowait(connection)

    started = time.perf_counter()
    tasks = []
    for index in range(int(rate * seconds)):
        scheduled = started + index / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        if (connection := idle.get_nowait()) is not None:
            connection[1].close()
    return Load(len(latencies), time.perf_counter() - started, percentile(latencies, 0.5), percentile(latencies, 0.99), errors)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bool]:
    """Send one request and read its whole response; returns (status, whether the connection stays open)."""
    writer.write(request)
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    await reader.readexactly(int(headers["content-length"]))
    return status, headers.get("connection") != "close"
