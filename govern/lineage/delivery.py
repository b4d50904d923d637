"""Delivering the lineage outbox through the transport the user configured the standard OpenLineage way
(`openlineage.yml`, `OPENLINEAGE__…` variables, `OPENLINEAGE_URL`); with none configured, into govern's
own lineage store.

At least once, in order per run: an event waits while an earlier event of its run is undelivered. A
failed event is retried with exponential back-off; a backend that is down only grows the backlog. An
event that still fails after `max_attempts` (GOVERN_LINEAGE_MAX_ATTEMPTS) is parked with its error: it
shows in `govern lineage status` and no longer holds back the later events of its run.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from openlineage.client import OpenLineageClient
from sqlalchemy import Engine, text, update
from sqlmodel import Session, col, select

from govern.db.database import reading, session_scope
from govern.db.tables import LineageOutboxEntry
from govern.lineage.outbox import stored_event
from govern.lineage.transport import StoreConfig, StoreTransport
from govern.records.errors import as_utc

log = logging.getLogger(__name__)

# pg_advisory_lock key held while a deliverer works: one deliverer at a time across processes and machines.
_DELIVERY_LOCK = 0x6C696E65
_CREDENTIALS_IN_URL = re.compile(r"//[^/@\s]+@")


def lineage_client(database: Engine) -> OpenLineageClient:
    """The client with the transport the user configured; with no transport configured (none at all, or only
    facets, filters or tags), one that writes to govern's lineage store, where that other configuration still
    applies. The test mirrors the client's own choice before it falls back to the console."""
    store_client = OpenLineageClient(transport=StoreTransport(StoreConfig(), database=database))
    configured = store_client.config.transport or {}
    if configured.get("type") or os.environ.get("OPENLINEAGE_URL"):
        return OpenLineageClient()
    return store_client


@dataclass(frozen=True)
class DeliveryPass:
    delivered: int
    failed: int
    waiting: int


class Deliverer:
    """Sends committed outbox events, oldest first. Stops a pass after a few failures in a row: the backend
    is likely down, and the events keep until the next pass."""

    def __init__(
        self, database: Engine, client: OpenLineageClient, *, batch_size: int = 200,
        first_retry_s: float = 1.0, max_retry_s: float = 60.0, failures_per_pass: int = 3, max_attempts: int = 10,
    ) -> None:
        self.database = database
        self.client = client
        self.batch_size = batch_size
        self.first_retry_s = first_retry_s
        self.max_retry_s = max_retry_s
        self.failures_per_pass = failures_per_pass
        self.max_attempts = max_attempts
        self._wake = threading.Event()
        self._local_lock = threading.Lock()

    def wake(self) -> None:
        """Deliver soon: new events were committed."""
        self._wake.set()

    def run(self, stop: threading.Event, poll_s: float) -> None:
        """Deliver until `stop` is set; a database or transport fault is logged and retried on the next pass."""
        while not stop.is_set():
            try:
                self.deliver_pending()
            except Exception:
                log.exception("lineage delivery pass failed; retrying in %.1f s", poll_s)
            self._wake.wait(poll_s)
            self._wake.clear()

    def deliver_pending(self) -> DeliveryPass:
        """One pass over the oldest pending events; nothing happens while another deliverer holds the lock."""
        with self._exclusive() as acquired:
            if not acquired:
                return DeliveryPass(0, 0, 0)
            return self._deliver_batch()

    def _deliver_batch(self) -> DeliveryPass:
        with Session(reading(self.database)) as session:
            entries = session.exec(
                select(LineageOutboxEntry).where(col(LineageOutboxEntry.delivered_at).is_(None), col(LineageOutboxEntry.parked_at).is_(None))
                .order_by(col(LineageOutboxEntry.id)).limit(self.batch_size)
            ).all()
        delivered = failed = waiting = failures_in_a_row = 0
        held_runs: set[str] = set()
        for entry in entries:
            now = datetime.now(UTC)
            if entry.run_id in held_runs or as_utc(entry.next_attempt_at) > now:
                held_runs.add(entry.run_id)
                waiting += 1
                continue
            try:
                self.client.emit(stored_event(entry.event))
            except Exception as exc:  # every transport raises its own errors; all of them mean "not delivered"
                self._record_failure(entry, exc, now)
                held_runs.add(entry.run_id)
                failed += 1
                failures_in_a_row += 1
                if failures_in_a_row >= self.failures_per_pass:
                    break
                continue
            failures_in_a_row = 0
            self._record_delivery(entry, now)
            delivered += 1
        return DeliveryPass(delivered, failed, waiting)

    def _record_delivery(self, entry: LineageOutboxEntry, now: datetime) -> None:
        with session_scope(self.database) as session:
            session.exec(
                update(LineageOutboxEntry).where(col(LineageOutboxEntry.id) == entry.id)
                .values(delivered_at=now, attempts=LineageOutboxEntry.attempts + 1)
            )

    def _record_failure(self, entry: LineageOutboxEntry, exc: Exception, now: datetime) -> None:
        delay = min(self.max_retry_s, self.first_retry_s * 2 ** min(entry.attempts, 64))
        message = _CREDENTIALS_IN_URL.sub("//***@", f"{type(exc).__name__}: {exc}")[:1000]
        parked = entry.attempts + 1 >= self.max_attempts
        log.warning("lineage event %s of run %s not delivered (attempt %d%s): %s", entry.id, entry.run_id, entry.attempts + 1,
                    ", parked" if parked else "", message)
        with session_scope(self.database) as session:
            session.exec(
                update(LineageOutboxEntry).where(col(LineageOutboxEntry.id) == entry.id)
                .values(attempts=LineageOutboxEntry.attempts + 1, next_attempt_at=now + timedelta(seconds=delay), last_error=message,
                        parked_at=now if parked else None)
            )

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        """One pass at a time: in this process by a lock, across processes by a PostgreSQL advisory lock."""
        if not self._local_lock.acquire(blocking=False):
            yield False
            return
        try:
            if self.database.dialect.name != "postgresql":
                yield True
                return
            with self.database.connect() as connection:
                acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _DELIVERY_LOCK}).scalar()
                connection.commit()
                try:
                    yield bool(acquired)
                finally:
                    if acquired:
                        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _DELIVERY_LOCK})
                        connection.commit()
        finally:
            self._local_lock.release()
