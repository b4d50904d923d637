"""`GET /v1/audit/decisions`: the decision log as JSON Lines or CSV, filtered, streamed in constant memory.

Each row is built from the record's hashed content (timestamps in UTC with their offset, the actor by token
id and name); JSON Lines also carry the content itself, the previous hash, the format and the hash, so an
export verifies without the database (govern.audit.record_format.row_hash).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from govern.api.deps import PolicyEngineDep, SessionDep, TokenDep, require
from govern.api.params import RuleFilter, Since, TeamFilter, Until
from govern.api.refusals import refusals
from govern.api.streams import JsonLines, csv_error, jsonl_error, prefetched, streamed
from govern.audit.log import walk
from govern.audit.record_format import as_utc, columns_from_content, content_rule_ids
from govern.db.database import reading
from govern.db.tables import ApiToken, DecisionRecord

router = APIRouter(prefix="/v1/audit", tags=["audit"])


CSV_COLUMNS = (
    "seq", "decision_id", "recorded_at", "kind", "actor", "actor_name", "team", "outcome", "rules", "bundle_revision",
    "input_hash", "format", "prev_hash", "hash",
)


@router.get(
    "/decisions", response_class=JsonLines,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **refusals(403)},
)
def export_decisions(
    request: Request,
    token: TokenDep,
    engine: PolicyEngineDep,
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
    return exported_decisions(request.app.state.db, export_format, team=team, outcome=outcome, rule=rule, since=since, until=until)


def exported_decisions(
    db: Engine, export_format: Literal["jsonl", "csv"], *, team: str | None, outcome: str | None, rule: str | None,
    since: datetime | None, until: datetime | None,
) -> StreamingResponse:
    """The filtered log streamed as CSV or JSON Lines, read on a snapshot of its own (the API's export and the
    console's share it); the caller has checked `audit.read`."""
    conditions = []
    if team is not None:
        conditions.append(DecisionRecord.team == team)
    if outcome is not None:
        conditions.append(DecisionRecord.outcome == outcome)
    if since is not None:
        conditions.append(DecisionRecord.recorded_at >= as_utc(since))  # SQLite compares wall times
    if until is not None:
        conditions.append(DecisionRecord.recorded_at < as_utc(until))

    def rows() -> Iterator[dict[str, Any]]:
        with Session(reading(db)) as reader:
            names = ActorNames(reader)
            for row in walk(reader, 500, *conditions):
                exported = export_row(row, names)
                if rule is None or rule in exported["rules"]:
                    yield exported

    if export_format == "csv":
        return streamed(_csv(prefetched(rows())), "text/csv", csv_error)
    return streamed(_jsonl(prefetched(rows())), "application/x-ndjson", jsonl_error)


class ActorNames:
    """Token names by token id, looked up once per actor: an export names who decided, not only their id."""

    def __init__(self, session: Session):
        self._session = session
        self._names: dict[str, str] = {}

    def __call__(self, actor: str) -> str:
        if actor not in self._names:
            try:
                token = self._session.get(ApiToken, uuid.UUID(actor))
            except ValueError:
                token = None
            self._names[actor] = token.name if token is not None else ""
        return self._names[actor]


def export_row(row: DecisionRecord, names: ActorNames) -> dict[str, Any]:
    """The row as its hashed content states it, with its chain fields and the actor's token name."""
    content = json.loads(row.record)
    exported = columns_from_content(content)
    exported.update(
        actor_name=names(exported["actor"] or ""), rules=content_rule_ids(content), format=row.format,
        prev_hash=row.prev_hash, hash=row.hash, record=content,
    )
    return exported


def _jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps({k: v for k, v in row.items() if k != "rules"}) + "\n"


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([" ".join(row["rules"]) if name == "rules" else row[name] for name in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
