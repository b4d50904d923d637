"""`GET /v1/audit/decisions`: the decision log as JSON Lines or CSV, filtered, streamed in constant memory.

JSON Lines carry each record's canonical content with its hash and previous hash, so an export can be
verified without the database.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from govern.api.params import RuleFilter, Since, TeamFilter, Until
from govern.api.streams import csv_error, jsonl_error, prefetched, streamed
from govern.api.deps import EngineDep, SessionDep, TokenDep, require
from govern.api.refusals import refusals
from govern.database import reading
from govern.decision_log import rule_ids, walk
from govern.models import DecisionRecord

router = APIRouter(prefix="/v1/audit", tags=["audit"])

class JsonLines(StreamingResponse):
    """A stream of JSON Lines, so that the OpenAPI document names the media type."""

    media_type = "application/x-ndjson"


CSV_COLUMNS = ("seq", "decision_id", "recorded_at", "kind", "actor", "team", "outcome", "rules", "bundle_revision", "input_hash", "prev_hash", "hash")


@router.get(
    "/decisions", response_class=JsonLines,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **refusals(403)},
)
def export_decisions(
    request: Request,
    token: TokenDep,
    engine: EngineDep,
    session: SessionDep,
    export_format: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
    team: TeamFilter = None,
    outcome: Literal["allowed", "warned", "denied"] | None = None,
    rule: RuleFilter = None,
    since: Since = None,
    until: Until = None,
) -> StreamingResponse:
    """Stream decisions (compliance and admin only); filters: team, outcome, rule id, time range."""
    require(engine, token, "audit.read", {"team": team or ""})
    session.commit()  # end the request's transaction: the export reads on its own snapshot
    conditions = []
    if team is not None:
        conditions.append(DecisionRecord.team == team)
    if outcome is not None:
        conditions.append(DecisionRecord.outcome == outcome)
    if since is not None:
        conditions.append(DecisionRecord.recorded_at >= since)
    if until is not None:
        conditions.append(DecisionRecord.recorded_at < until)

    def rows() -> Iterator[DecisionRecord]:
        with Session(reading(request.app.state.db)) as reader:
            for row in walk(reader, 500, *conditions):
                if rule is None or rule in rule_ids(row):
                    yield row

    if export_format == "csv":
        return streamed(_csv(prefetched(rows())), "text/csv", csv_error)
    return streamed(_jsonl(prefetched(rows())), "application/x-ndjson", jsonl_error)


def _jsonl(rows: Iterator[DecisionRecord]) -> Iterator[str]:
    for row in rows:
        yield json.dumps({"seq": row.seq, "hash": row.hash, "prev_hash": row.prev_hash, "record": json.loads(row.record)}) + "\n"


def _csv(rows: Iterator[DecisionRecord]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [row.seq, row.decision_id, row.recorded_at.isoformat(), row.kind, row.actor, row.team, row.outcome,
             " ".join(rule_ids(row)), row.bundle_revision, row.input_hash, row.prev_hash, row.hash]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
