"""Where a live server's CPU goes: py-spy samples its processes while load runs, and each sample is charged to
the component its innermost recognised frame belongs to; psutil's CPU times turn the shares into milliseconds.

py-spy rather than an in-process profiler: it attaches from outside, so the server runs unchanged code, and it
samples every process of `govern serve --workers N`. Only samples of threads holding the GIL count: a thread
waiting for it, or for the database, is not using the CPU.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

# Work a background thread of the service does for everyone, wherever its time goes: charged to the thread.
BACKGROUND: tuple[tuple[str, str], ...] = (
    ("govern/lineage/delivery", "lineage_delivery"),
    ("govern/dispatch/worker", "dispatch_worker"),
    ("govern/api/live_policy", "policy_reload_poll"),
)

# Otherwise the innermost frame whose file path contains one of these decides a sample's component; frames of
# the standard library, of unlisted packages and of the process pool (which carries the engine's and the
# profiler's requests) are skipped, so their time goes to whoever called them.
TRANSPARENT = ("govern/process_pool",)
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("govern/api/metrics", "metrics"),
    ("prometheus_client/", "metrics"),
    ("govern/audit/", "decision_log"),
    ("govern/canonical", "decision_log"),
    ("govern/policy/", "policy_engine"),
    ("regorus", "policy_engine"),
    ("govern/circuit/", "circuit_profile"),
    ("govern/check/", "circuit_profile"),
    ("govern/records/tokens", "auth"),
    ("govern/api/deps", "auth"),
    ("govern/api/bodies", "http"),
    ("govern/api/server", "http"),
    ("govern/records/", "database"),
    ("sqlalchemy/", "database"),
    ("sqlmodel/", "database"),
    ("psycopg", "database"),
    ("sqlite3/", "database"),
    ("govern/db/", "database"),
    ("pydantic", "validation"),
    ("govern/manifest/", "validation"),
    ("govern/submission", "validation"),
    ("govern/secrets", "validation"),
    ("json/", "json"),
    ("orjson", "json"),
    ("fastapi/", "http"),
    ("starlette/", "http"),
    ("uvicorn/", "http"),
    ("anyio/", "http"),
    ("httptools", "http"),
    ("h11/", "http"),
    ("asyncio/", "http"),
    ("govern/", "govern_other"),
)


def component_of(stack: str) -> str:
    """The component of one collapsed py-spy stack ("root;...;leaf"): its background thread's, else its
    innermost recognised frame's."""
    frames = stack.split(";")
    for marker, component in BACKGROUND:
        if any(marker in frame for frame in frames):
            return component
    for frame in reversed(frames):
        if any(marker in frame for marker in TRANSPARENT):
            continue
        for marker, component in COMPONENTS:
            if marker in frame:
                return component
    return "other"


def shares(raw_file: Path) -> dict[str, float]:
    """Each component's share of the samples in a py-spy raw (collapsed stacks) file."""
    counts: Counter[str] = Counter()
    for line in raw_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[component_of(stack)] += int(count)
    total = sum(counts.values()) or 1
    return {component: count / total for component, count in counts.most_common()}


def service_processes(server_pid: int) -> list[psutil.Process]:
    """The launcher and every process it started (uvicorn's workers, profiling processes)."""
    root = psutil.Process(server_pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User plus system CPU the processes have used so far (vanished ones count as nothing)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def postgres_processes() -> list[psutil.Process]:
    """The PostgreSQL server's processes on this machine, whose CPU the database work costs too."""
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


@contextmanager
def sampled(server_pid: int, rate: int = 250) -> Iterator[dict[str, float]]:
    """Sample the server with py-spy for the duration of the block; the dict yielded is filled with the
    component shares when the block ends (empty when py-spy is not installed or may not attach)."""
    found: dict[str, float] = {}
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        yield found
        return
    with tempfile.TemporaryDirectory(prefix="govern-profile-") as folder:
        raw = Path(folder) / "samples.txt"
        sampler = subprocess.Popen([py_spy, "record", "--pid", str(server_pid), "--subprocesses", "--rate", str(rate), "--format", "raw",
                                    "--gil", "--nonblocking", "--output", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield found
        finally:
            sampler.send_signal(signal.SIGINT)
            sampler.wait(timeout=30)
        if raw.exists():
            found.update(shares(raw))
