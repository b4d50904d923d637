"""Query and path parameters, bounded: every number fits the column it is compared with, every time converts
to UTC, every text is no longer than its column. Out of bounds is a 422 naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

ROW_ID_MAX = 2**31 - 1
"""Row ids (submissions.number, lineage_events.id) are INTEGER columns: 32-bit signed on PostgreSQL."""


def _in_utc(moment: datetime) -> datetime:
    """A naive time is read as UTC; one that has no UTC equivalent in years 1–9999 is refused."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is outside years 1 to 9999 once converted to UTC") from None


Moment = Annotated[datetime, AfterValidator(_in_utc)]
Since = Annotated[Moment | None, Query(description="Only what was recorded at or after this time (ISO 8601; UTC if no offset).")]
Until = Annotated[Moment | None, Query(description="Only what was recorded before this time (ISO 8601; UTC if no offset).")]
Cursor = Annotated[int | None, Query(ge=0, le=ROW_ID_MAX, description="`next_cursor` of the page before.")]
EventId = Annotated[int, Query(ge=0, le=ROW_ID_MAX, description="Export events stored after this id.")]
TeamFilter = Annotated[str | None, Query(max_length=63, description="Only this team's records.")]
RuleFilter = Annotated[str | None, Query(min_length=1, max_length=80, description="Only decisions citing this rule id.")]
VendorName = Annotated[str, Path(min_length=1, max_length=200, description="The vendor's name.")]
