"""Impact analysis: every recorded decision in a window, its recorded input decided again by a candidate
bundle, compared with the decision that was recorded (the old bundle need not be replayed: the record is
what it decided). Each input carries its own `now_ns`, so it is judged by the candidate's rules as of its time.

Memory stays flat on a long log: records stream in chunks; the next chunk is read and parsed on a thread
while the engine decides the current one (`evaluate_many`, which an engine may spread over its evaluators);
the counts are exact, the list of changed decisions is capped (`ImpactReport.listed_limit`), keeping
those whose outcome changed before those where only the rules did.
"""

from __future__ import annotations

import json
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from govern.audit.record_format import as_utc, outcome_of, policy_input_of, utc_text
from govern.db.tables import DecisionRecord
from govern.policy.decision import ENGINE_FAILURE_RULE, Decision
from govern.policy.engines import PolicyEngine

CHUNK = 1000
LISTED_LIMIT = 1000
DECISION_LINK = "/v1/audit/decisions/{decision_id}"
Progress = Callable[[int, int], None]
"""Called after each chunk with (records replayed so far, records in the window)."""

OutcomeName = Literal["allowed", "warned", "denied"]


class Window(BaseModel):
    """Which recorded decisions are replayed: recorded at or after `since`, before `until`, of a team, an outcome."""

    since: datetime | None = None
    until: datetime | None = None
    team: str | None = None
    outcome: OutcomeName | None = None

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        if self.since is not None:
            found.append(DecisionRecord.recorded_at >= as_utc(self.since))  # SQLite compares wall times
        if self.until is not None:
            found.append(DecisionRecord.recorded_at < as_utc(self.until))
        if self.team is not None:
            found.append(DecisionRecord.team == self.team)
        if self.outcome is not None:
            found.append(DecisionRecord.outcome == self.outcome)
        return found


class ChangedDecision(BaseModel):
    """A recorded decision the candidate decides differently: another outcome, or other rules firing."""

    decision_id: str
    seq: int
    kind: str
    team: str
    sandbox: str
    recorded_at: str
    recorded_outcome: str
    new_outcome: str
    rules_added: list[str]
    rules_removed: list[str]
    link: str = Field(description="Where the recorded decision is: GET /v1/audit/decisions/{id} of the service.")


class ImpactReport(BaseModel):
    """What the candidate bundle would have changed in the window; counts are exact, the list is capped."""

    candidate_revision: str
    candidate_manifest_revision: str
    window: Window
    replayed: int = 0
    changed: int = 0
    allow_to_deny: int = 0
    deny_to_allow: int = 0
    rules_added: dict[str, int] = Field(default_factory=dict, description="Rule id → decisions where it fires only under the candidate.")
    rules_removed: dict[str, int] = Field(default_factory=dict, description="Rule id → decisions where it no longer fires.")
    teams: dict[str, int] = Field(default_factory=dict, description="Team → its changed decisions.")
    sandboxes: dict[str, int] = Field(default_factory=dict, description="Sandbox → its changed decisions.")
    engine_failures: int = Field(0, description="Decisions the candidate could not evaluate (each denied, fail closed).")
    unreadable: int = Field(0, description="Records whose content could not be read as a decision; not replayed.")
    listed_limit: int = LISTED_LIMIT
    changed_decisions: list[ChangedDecision] = Field(default_factory=list, description="Up to `listed_limit` changed decisions in log order, those whose outcome changed first.")

    @property
    def truncated(self) -> bool:
        return self.changed > len(self.changed_decisions)


@dataclass(frozen=True)
class Past:
    """A recorded decision, read and parsed: what the candidate is given, and what it is compared with."""

    decision_id: str
    seq: int
    kind: str
    team: str
    recorded_at: str
    policy_input: dict[str, Any]
    outcome: str
    rules: frozenset[str]


def analyse(
    db: Engine,
    engine: PolicyEngine,
    window: Window,
    *,
    candidate_manifest_revision: str = "",
    link_base: str = "",
    progress: Progress | None = None,
    chunk: int = CHUNK,
    listed_limit: int = LISTED_LIMIT,
) -> ImpactReport:
    """Replay the window's recorded decisions on `engine` (the candidate) and count what changes."""
    with Session(db) as session:
        total = session.execute(select(func.count()).select_from(DecisionRecord).where(*window.conditions())).scalar_one()
    tally = _Tally(ImpactReport(candidate_revision=engine.bundle_revision, candidate_manifest_revision=candidate_manifest_revision,
                                window=window, listed_limit=listed_limit), link_base)
    for pasts, unreadable in _prefetched(_chunks(db, window, chunk)):
        tally.report.unreadable += unreadable
        for past, decision in zip(pasts, engine.evaluate_many([p.policy_input for p in pasts]), strict=True):
            tally.add(past, decision)
        if progress is not None:
            progress(tally.report.replayed + tally.report.unreadable, total)
    return tally.finished()


class _Tally:
    def __init__(self, report: ImpactReport, link_base: str):
        self.report, self.link_base = report, link_base.rstrip("/")
        self.added: Counter[str] = Counter()
        self.removed: Counter[str] = Counter()
        self.teams: Counter[str] = Counter()
        self.sandboxes: Counter[str] = Counter()
        self.flips: list[ChangedDecision] = []
        self.others: list[ChangedDecision] = []

    def add(self, past: Past, decision: Decision) -> None:
        report = self.report
        report.replayed += 1
        rules = frozenset(decision.rule_ids)
        if ENGINE_FAILURE_RULE in rules:
            report.engine_failures += 1
        outcome = decision.outcome.value
        if outcome == past.outcome and rules == past.rules:
            return
        report.changed += 1
        was_denied, is_denied = past.outcome == "denied", outcome == "denied"
        report.allow_to_deny += not was_denied and is_denied
        report.deny_to_allow += was_denied and not is_denied
        added, removed = sorted(rules - past.rules), sorted(past.rules - rules)
        self.added.update(added)
        self.removed.update(removed)
        sandbox = _sandbox_of(past.policy_input)
        self.teams[past.team] += 1
        if sandbox:
            self.sandboxes[sandbox] += 1
        self._list(ChangedDecision(
            decision_id=past.decision_id, seq=past.seq, kind=past.kind, team=past.team, sandbox=sandbox,
            recorded_at=past.recorded_at, recorded_outcome=past.outcome, new_outcome=outcome,
            rules_added=added, rules_removed=removed,
            link=self.link_base + DECISION_LINK.format(decision_id=past.decision_id),
        ))

    def _list(self, item: ChangedDecision) -> None:
        """Keep at most `listed_limit`, outcome changes first: one pushes out the latest of the others."""
        limit = self.report.listed_limit
        flipped = item.recorded_outcome != item.new_outcome
        if len(self.flips) + len(self.others) < limit:
            (self.flips if flipped else self.others).append(item)
        elif flipped and self.others:
            self.others.pop()
            self.flips.append(item)

    def finished(self) -> ImpactReport:
        return self.report.model_copy(update={
            "rules_added": dict(sorted(self.added.items())), "rules_removed": dict(sorted(self.removed.items())),
            "teams": dict(sorted(self.teams.items())), "sandboxes": dict(sorted(self.sandboxes.items())),
            "changed_decisions": sorted(self.flips + self.others, key=lambda item: item.seq),
        })


def _chunks(db: Engine, window: Window, size: int) -> Iterator[tuple[list[Past], int]]:
    """The window's records in seq order, parsed, `size` at a time, with how many of each chunk were unreadable.
    Plain rows of the six columns a replay reads, not ORM entities: on a long log building those costs the
    parent as much as parsing the records."""
    columns = (col(DecisionRecord.seq), col(DecisionRecord.decision_id), col(DecisionRecord.kind), col(DecisionRecord.team),
               col(DecisionRecord.recorded_at), col(DecisionRecord.record))
    with Session(db) as session:
        last = 0
        while True:
            query = sqlalchemy.select(*columns).where(col(DecisionRecord.seq) > last, *window.conditions())
            rows = session.execute(query.order_by(col(DecisionRecord.seq)).limit(size)).all()
            if not rows:
                return
            pasts = [_past(*row) for row in rows]
            batch = [past for past in pasts if past is not None]
            yield batch, len(pasts) - len(batch)
            last = rows[-1][0]


def _past(seq: int, decision_id: str, kind: str, team: str, recorded_at: datetime, record: str) -> Past | None:
    try:
        content = json.loads(record)
        recorded = content["decision"]
        rules = frozenset(str(f["rule"]) for kind_ in ("deny", "warn", "waived") for f in recorded.get(kind_, []))
        policy_input = policy_input_of(content)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None
    if not isinstance(policy_input, dict):
        return None
    return Past(decision_id, seq, kind, team, utc_text(recorded_at), policy_input, outcome_of(recorded), rules)


def _sandbox_of(policy_input: Mapping[str, Any]) -> str:
    experiment = policy_input.get("experiment")
    spec = experiment.get("spec") if isinstance(experiment, Mapping) else None
    sandbox = spec.get("sandbox", "") if isinstance(spec, Mapping) else ""
    return sandbox if isinstance(sandbox, str) else ""


_DONE = object()


def _prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """The same items, the next one produced on a thread while the caller works on this one; an error there
    is raised here, and a caller that stops early stops the thread."""
    ready: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: Any, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                ready.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            offer(_DONE, exc)

    worker = threading.Thread(target=produce, name="govern-impact-read", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
