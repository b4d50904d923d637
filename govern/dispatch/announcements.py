"""Waking idle workers the moment a job is queued, so dispatch does not wait for the next poll.

On PostgreSQL the transaction that queues a job also sends `NOTIFY govern_jobs`, delivered to every
listening worker on every machine when (and only if) that transaction commits. A worker in the service
process is also woken directly. Polling stays as the safety net: a missed notification (a worker
reconnecting, SQLite) costs at most one poll interval, never a job.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

log = logging.getLogger("govern.worker")
CHANNEL = "govern_jobs"
RECONNECT_S = 2.0


def announce(session: Session) -> None:
    """Tell listening workers, once the caller's transaction commits, that a job was queued."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


class JobAnnouncements:
    """What an idle worker waits on: a notification, a direct wake-up, or the end of its poll interval."""

    def __init__(self, database: Engine):
        self._database = database
        self._arrived = threading.Event()
        self._closed = threading.Event()
        self._listener: threading.Thread | None = None

    def __enter__(self) -> JobAnnouncements:
        self._closed.clear()
        if self._database.dialect.name == "postgresql":
            self._listener = threading.Thread(target=self._listen, name="govern-job-announcements", daemon=True)
            self._listener.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._closed.set()
        self.wake()
        if self._listener is not None:
            self._listener.join(timeout=5)

    def wake(self) -> None:
        self._arrived.set()

    def wait(self, timeout_s: float) -> None:
        """Return when a job was announced since the last wait, or after `timeout_s`."""
        self._arrived.wait(timeout_s)
        self._arrived.clear()

    def _listen(self) -> None:
        import psycopg

        conninfo = self._database.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._closed.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    while not self._closed.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.wake()
            except psycopg.Error as exc:
                log.warning("listening for queued jobs failed (%s); polling until it reconnects", exc.__class__.__name__)
                self._closed.wait(RECONNECT_S)
