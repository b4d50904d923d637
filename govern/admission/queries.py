"""Admitted submissions read back: one by id, a filtered page of them, and the decision each was admitted
on, read from the decision log (its one source of truth)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy
from sqlmodel import Session, col, select

from govern.audit.record_format import content_rule_ids, restored_content
from govern.db.public import SubmissionPublic
from govern.db.tables import DecisionRecord, DecisionRuleRecord, SubmissionRecord
from govern.dispatch.control import dispatch_status
from govern.policy.decision import Decision
from govern.records.errors import as_utc

RULE_SCAN_BATCH = 200
"""Decision records read at a time while looking for a rule that fired."""


def decision_of(session: Session, decision_id: str) -> Decision:
    """A recorded decision, read back from the decision log (its one source of truth)."""
    record = session.exec(select(DecisionRecord).where(DecisionRecord.decision_id == decision_id)).one()
    return Decision.model_validate(restored_content(json.loads(record.record))["decision"])


def submission_public(row: SubmissionRecord, job_status: str | None) -> SubmissionPublic:
    return SubmissionPublic.model_validate({**row.model_dump(), "created_at": as_utc(row.created_at), "job_status": job_status})


def get_submission(session: Session, submission_id: str) -> SubmissionPublic | None:
    row = session.exec(select(SubmissionRecord).where(SubmissionRecord.id == submission_id)).first()
    return submission_public(row, dispatch_status(session, row.id)) if row else None


def list_submissions(
    session: Session, *, team: str | None, outcome: str | None, rule: str | None,
    since: datetime | None, until: datetime | None, after: int | None, limit: int,
) -> tuple[list[SubmissionPublic], int | None]:
    """Newest first, `limit` at a time; the cursor is the last row's number (stable under inserts)."""
    query = select(SubmissionRecord).order_by(col(SubmissionRecord.number).desc())
    for wanted, condition in (
        (team, lambda: SubmissionRecord.team == team),
        (outcome, lambda: SubmissionRecord.outcome == outcome),
        (since, lambda: col(SubmissionRecord.created_at) >= since),
        (until, lambda: col(SubmissionRecord.created_at) < until),
        (after, lambda: col(SubmissionRecord.number) < after),
    ):
        if wanted is not None:
            query = query.where(condition())
    rows = list(session.exec(query.limit(limit + 1)).all()) if rule is None else _fired(session, query, rule, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    return [submission_public(row, dispatch_status(session, row.id)) for row in page], (page[-1].number if more else None)


def _fired(session: Session, query: Any, rule: str, wanted: int) -> list[SubmissionRecord]:
    """Up to `wanted` submissions whose decision fired `rule` (denied, warned or waived by it), matched as the
    audit export matches. The rule index beside the log (decision_rules) only narrows the rows read; each
    record's content, which the chain hashes, confirms the match."""
    fired = sqlalchemy.select(col(DecisionRuleRecord.seq)).where(col(DecisionRuleRecord.rule) == rule)
    narrowed = (
        sqlalchemy.select(SubmissionRecord, col(DecisionRecord.record))  # rows of both: sqlmodel's select yields one entity
        .join(DecisionRecord, col(DecisionRecord.decision_id) == SubmissionRecord.decision_id)
        .where(col(DecisionRecord.seq).in_(fired))
        .order_by(col(SubmissionRecord.number).desc())
    )
    if query.whereclause is not None:
        narrowed = narrowed.where(query.whereclause)
    found: list[SubmissionRecord] = []
    with session.execute(narrowed.execution_options(yield_per=RULE_SCAN_BATCH)) as rows:
        for row, record in rows:
            if rule in content_rule_ids(json.loads(record)):
                found.append(row)
                if len(found) == wanted:
                    break
    return found
