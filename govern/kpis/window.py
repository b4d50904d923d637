"""The window a report covers, bounded before any query runs, and the calendar quarters it touches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from govern.audit.record_format import as_utc

DEFAULT_SPAN = timedelta(days=90)
MAX_SPAN = timedelta(days=5 * 366)
"""At most five years (21 quarters): every measure reads only the window's rows."""


class InvalidWindow(ValueError):
    """A window that is empty, backwards, too long or not in UTC-convertible time: the caller's to fix (422)."""


@dataclass(frozen=True)
class Window:
    """[since, until) in UTC."""

    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None, *, now: datetime | None = None) -> Window:
        """The window asked for: `until` defaults to now, `since` to 90 days before `until`."""
        until = _utc(until) if until is not None else (now or datetime.now(UTC))
        since = _utc(since) if since is not None else until - DEFAULT_SPAN
        if since >= until:
            raise InvalidWindow(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
        if until - since > MAX_SPAN:
            raise InvalidWindow(f"the window spans {(until - since).days} days; at most {MAX_SPAN.days} (five years)")
        return cls(since, until)

    def quarters(self) -> list[tuple[str, datetime, datetime]]:
        """(label such as `2026-Q4`, start, end) of each calendar quarter (UTC) the window touches."""
        found = []
        start = quarter_start(self.since)
        while start < self.until:
            end = quarter_start(start + timedelta(days=93))
            found.append((f"{start.year}-Q{(start.month - 1) // 3 + 1}", start, end))
            start = end
        return found


def quarter_start(moment: datetime) -> datetime:
    return datetime(moment.year, 3 * ((moment.month - 1) // 3) + 1, 1, tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    try:
        return as_utc(moment)
    except OverflowError:
        raise InvalidWindow(f"{moment.isoformat()} has no UTC equivalent in years 1 to 9999") from None
