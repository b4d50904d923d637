"""What the service's record modules (procurement, waivers) share."""

from __future__ import annotations

from datetime import UTC, datetime


class RecordError(Exception):
    """A request that contradicts the records (unknown reference, duplicate id, wrong state): a 4xx."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their offset; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
