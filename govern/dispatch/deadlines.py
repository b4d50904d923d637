"""Deadlines on backend calls, so that a backend that hangs fails its job and the worker goes on serving others.

An isolated backend (govern.backends.isolated) ends a call at its deadline by killing its run process; any
other backend call (a vendor's cloud, over the network) runs in a helper thread that is abandoned at the
deadline. A job's own time limit counts from its first submission, across restarts of workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from govern.backends.base import Backend, BackendError
from govern.backends.isolated import IsolatedBackend
from govern.db.tables import JobRecord, utcnow
from govern.records.errors import as_utc

Answer = TypeVar("Answer")


def call_with_deadline(action: Callable[[], Answer], deadline_s: float, what: str) -> Answer:
    """Run a backend call in a daemon thread; a call still running after the deadline is abandoned."""
    values: list[Answer] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            values.append(action())
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"govern-backend-{what}", daemon=True)
    thread.start()
    thread.join(deadline_s)
    if thread.is_alive():
        raise BackendError(f"{what} did not return within {deadline_s:g} s; the backend is treated as hung")
    if errors:
        error = errors[0]
        if isinstance(error, BackendError):
            raise error
        raise BackendError(f"{what} failed: {error}") from error
    return values[0]


def bounded_call(backend: Backend, action: Callable[[], Answer], deadline_s: float, what: str) -> Answer:
    """An isolated backend's call, which ends at its deadline by killing its run process; any other on a thread."""
    if not isinstance(backend, IsolatedBackend):
        return call_with_deadline(action, deadline_s, what)
    try:
        return action()
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"{what} failed: {exc}") from exc


def remaining_s(job: JobRecord, job_timeout_s: float) -> float:
    """What is left of the job's time limit, which counts from its first submission (at least a second)."""
    started = as_utc(job.started_at) if job.started_at else utcnow()
    elapsed = (utcnow() - started) / timedelta(seconds=1)
    return max(1.0, job_timeout_s - elapsed)
