"""The heartbeat of a job a worker holds: the lease is renewed a few times per lease period, and a request
to cancel the job is noticed between beats.

A worker that dies stops renewing, so its lease expires and the next worker to claim the job takes it over
(govern.dispatch.queue); one that stalls past its lease finds `lost` set and leaves the job alone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from sqlalchemy.engine import Engine

from govern.dispatch.queue import cancel_requested, renew

log = logging.getLogger("govern.worker")


class Lease:
    """One job's lease while a worker holds it; `on_cancel` cancels the vendor job as soon as someone asks."""

    def __init__(self, database: Engine, job_id: str, worker_id: str, lease_s: float):
        self.database, self.job_id, self.worker_id, self.lease_s = database, job_id, worker_id, lease_s
        self.lost, self.cancelled, self._stop = threading.Event(), threading.Event(), threading.Event()
        self.on_cancel: Callable[[], None] | None = None

    def beat(self) -> None:
        interval = self.lease_s / 3
        while not self._stop.wait(interval):
            try:
                if not renew(self.database, self.job_id, self.worker_id, self.lease_s):
                    self.lost.set()
                    return
                if not self.cancelled.is_set() and cancel_requested(self.database, self.job_id):
                    self.cancelled.set()
                    if self.on_cancel is not None:
                        self.on_cancel()
            except Exception:  # a database hiccup: the next beat tries again, the lease has slack
                log.warning("heartbeat for job %s failed", self.job_id, exc_info=True)

    @contextlib.contextmanager
    def held(self) -> Iterator[Lease]:
        thread = threading.Thread(target=self.beat, name=f"govern-lease-{self.job_id}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=5)
