"""Finding decisions in the log for people: filtered, newest first, a page at a time by cursor (a seq).

Team, outcome, kind and time are columns, answered by their indexes; a rule id by the rule index beside the
log (decision_rules). An experiment name lives only in the record's content: a text search narrows the rows
read. Either way each candidate's content, which the chain hashes, confirms the match. Those scans are bounded: a page
reads at most `scan_limit` candidate records, and when it stops early its cursor resumes where it stopped,
so no page costs more than that however rare the match.
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

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        for wanted, column in ((self.team, DecisionRecord.team), (self.outcome, DecisionRecord.outcome), (self.kind, DecisionRecord.kind)):
            if wanted is not None:
                found.append(col(column) == wanted)
        if self.since is not None:
            found.append(col(DecisionRecord.recorded_at) >= as_utc(self.since))
        if self.until is not None:
            found.append(col(DecisionRecord.recorded_at) < as_utc(self.until))
        if self.rule is not None:  # narrowed by the rule index beside the log (its rows are written with each record)
            found.append(col(DecisionRecord.seq).in_(sqlalchemy.select(col(DecisionRuleRecord.seq)).where(col(DecisionRuleRecord.rule) == self.rule)))
        if self.experiment is not None:
            found.append(col(DecisionRecord.record).contains(json.dumps({"name": self.experiment}, separators=(",", ":"))[1:-1]))
        return found

    @property
    def reads_content(self) -> bool:
        return self.rule is not None or self.experiment is not None


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
    query = sqlalchemy.select(*LISTED_COLUMNS).where(*filters.conditions()).order_by(col(DecisionRecord.seq).desc())
    if before is not None:
        query = query.where(col(DecisionRecord.seq) < before)
    page = DecisionPage()
    read, last_seq = 0, None
    rows = session.execute(query.limit(limit + 1 if not filters.reads_content else scan_limit))
    for seq, decision_id, kind, team, outcome, recorded_at, record in rows:
        read, last_seq = read + 1, seq
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
        page.items.append(ListedDecision(seq, decision_id, kind, team, outcome, as_utc(recorded_at), experiment, rules))
    if filters.reads_content and read == scan_limit and last_seq is not None:
        page.scanned_to, page.next_cursor = last_seq, last_seq
    return page
