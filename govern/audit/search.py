"""Finding decisions in the log for people: filtered, newest first, a page at a time by cursor (a seq).

Team, outcome, kind and time are columns, answered by their indexes; a rule id by the rule index beside the
log (decision_rules, written with each record). An experiment name lives only in the record's content: a text
search narrows the rows read. Either way each candidate's content, which the chain hashes, confirms the match.
Content scans are bounded: a page reads the content of at most `scan_limit` records (the newest that match
the columns), and when it stops early its cursor resumes below them, so no page costs more than that however
rare the match. The bound is on records read, not on matches found: a text condition alone would have the
database read every record of a rare search (3 s at 100,000 records, benchmarks/bench_console.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy
from sqlmodel import Session, col

from govern.audit.record_format import as_utc, content_rule_ids
from govern.db.tables import DecisionRecord, DecisionRuleRecord

SCAN_LIMIT = 2000
LISTED_COLUMNS = (
    col(DecisionRecord.seq), col(DecisionRecord.decision_id), col(DecisionRecord.kind), col(DecisionRecord.team),
    col(DecisionRecord.outcome), col(DecisionRecord.recorded_at), col(DecisionRecord.record),
)


@dataclass(frozen=True)
class DecisionFilters:
    """What a search asks for; None is any."""

    team: str | None = None
    outcome: str | None = None
    kind: str | None = None
    rule: str | None = None
    experiment: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def column_conditions(self) -> list[Any]:
        found: list[Any] = []
        for wanted, column in ((self.team, DecisionRecord.team), (self.outcome, DecisionRecord.outcome), (self.kind, DecisionRecord.kind)):
            if wanted is not None:
                found.append(col(column) == wanted)
        if self.since is not None:
            found.append(col(DecisionRecord.recorded_at) >= as_utc(self.since))
        if self.until is not None:
            found.append(col(DecisionRecord.recorded_at) < as_utc(self.until))
        if self.rule is not None:
            found.append(col(DecisionRecord.seq).in_(sqlalchemy.select(col(DecisionRuleRecord.seq)).where(col(DecisionRuleRecord.rule) == self.rule)))
        return found

    def content_conditions(self, record: Any = None) -> list[Any]:
        """Text conditions on `record` (the table's column unless given another, such as a subquery's)."""
        record = col(DecisionRecord.record) if record is None else record
        found: list[Any] = []
        if self.experiment is not None:
            found.append(record.contains(json.dumps({"name": self.experiment}, separators=(",", ":"))[1:-1]))
        return found

    @property
    def reads_content(self) -> bool:
        return self.experiment is not None


@dataclass(frozen=True)
class ListedDecision:
    seq: int
    decision_id: str
    kind: str
    team: str
    outcome: str
    recorded_at: datetime
    experiment: str
    rules: list[str]


@dataclass
class DecisionPage:
    items: list[ListedDecision] = field(default_factory=list)
    next_cursor: int | None = None
    scanned_to: int | None = None
    """Set when the page stopped at its scan limit before filling: the seq the next page resumes below."""


def experiment_of(content: Mapping[str, Any]) -> str:
    policy_input = content.get("input")
    experiment = policy_input.get("experiment") if isinstance(policy_input, Mapping) else None
    metadata = experiment.get("metadata") if isinstance(experiment, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""


def rules_of(content: Mapping[str, Any]) -> list[str]:
    """The rule ids that fired, or none for content that cannot be read as a decision."""
    try:
        return [str(rule) for rule in content_rule_ids(content)]
    except (KeyError, TypeError, AttributeError):
        return []


def search_decisions(
    session: Session, filters: DecisionFilters, *, before: int | None = None, limit: int = 50, scan_limit: int = SCAN_LIMIT,
) -> DecisionPage:
    """Up to `limit` decisions matching the filters with seq below `before`, newest first."""
    seq = col(DecisionRecord.seq)
    columns = [*filters.column_conditions(), *([seq < before] if before is not None else [])]
    query = sqlalchemy.select(*LISTED_COLUMNS).where(*columns).order_by(seq.desc())
    lowest = None
    if filters.reads_content:
        # The text conditions apply to the window's records only: neither PostgreSQL nor SQLite moves a
        # condition into a subquery with a LIMIT, and PostgreSQL, which does not count what reading a
        # record's content costs, would otherwise run the text search over the whole log first.
        window = query.limit(scan_limit).subquery("window")
        query = sqlalchemy.select(*window.c).where(*filters.content_conditions(window.c.record)).order_by(window.c.seq.desc())
        lowest = _window_end(session, columns, scan_limit)
    page = DecisionPage()
    for row_seq, decision_id, kind, team, outcome, recorded_at, record in session.execute(query.limit(limit + 1 if not filters.reads_content else scan_limit)):
        try:
            content = json.loads(record)
        except ValueError:
            content = {}
        content = content if isinstance(content, dict) else {}
        rules = rules_of(content)
        experiment = experiment_of(content)
        if (filters.rule is not None and filters.rule not in rules) or (filters.experiment is not None and filters.experiment != experiment):
            continue
        if len(page.items) == limit:
            page.next_cursor = page.items[-1].seq
            return page
        page.items.append(ListedDecision(row_seq, decision_id, kind, team, outcome, as_utc(recorded_at), experiment, rules))
    if lowest is not None:  # the window is read: the next page goes on below it
        page.next_cursor = lowest
        page.scanned_to = lowest if len(page.items) < limit else None
    return page


def _window_end(session: Session, conditions: list[Any], scan_limit: int) -> int | None:
    """The lowest seq of the `scan_limit` newest records meeting the column conditions (read from the
    indexes, no content), or None when fewer meet them: the records a content search may read."""
    query = sqlalchemy.select(col(DecisionRecord.seq)).where(*conditions).order_by(col(DecisionRecord.seq).desc())
    found: int | None = session.execute(query.offset(scan_limit - 1).limit(1)).scalar()
    return found
