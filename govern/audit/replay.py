"""Replay one recorded decision: its recorded policy input (secrets already redacted, its own `now_ns`) on the
bundle revision it names, loaded back from the kept revisions, then compared with what was recorded.

The input carries its own time, so a faithful replay is deterministic: the outcome, the rule ids of each kind
(deny, warn, waived) and their messages come out identical. Anything else is a difference, and so is every
reason the replay could not be trusted (an engine failure, a revision whose files no longer digest): it fails
closed and never reports "identical" for a decision it could not reproduce.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from govern.audit.record_format import outcome_of, policy_input_of
from govern.db.tables import DecisionRecord
from govern.policy.bundle import BundleError, PolicyBundle
from govern.policy.decision import ENGINE_FAILURE_RULE, Decision
from govern.policy.engines import EngineError, PolicyEngine
from govern.records.policy_revisions import load_revision

if TYPE_CHECKING:
    from govern.settings import Settings

FINDING_KINDS = ("deny", "warn", "waived")


class ReplayError(Exception):
    """The decision cannot be replayed at all: `unknown` (no such decision) or `not_kept` (its revision
    was never stored: records from before revisions were kept)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Difference:
    """One way the replay differs from the record: `what` names it (outcome, deny rules, warn messages, ...)."""

    what: str
    recorded: Any
    replayed: Any

    def describe(self) -> str:
        return f"{self.what}: recorded {_shown(self.recorded)}, replayed {_shown(self.replayed)}"


@dataclass(frozen=True)
class Replay:
    """The replay's verdict on one recorded decision."""

    decision_id: str
    seq: int
    kind: str
    bundle_revision: str
    recorded_outcome: str
    replayed_outcome: str | None
    differences: tuple[Difference, ...]

    @property
    def identical(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "identical": self.identical, "differences": [asdict(d) for d in self.differences]}


EngineFactory = Callable[[PolicyBundle], PolicyEngine]


def recorded_decision(session: Session, decision_id: str) -> DecisionRecord:
    """The decision's record; ReplayError `unknown` when there is none."""
    row = session.exec(select(DecisionRecord).where(DecisionRecord.decision_id == decision_id)).first()
    if row is None:
        raise ReplayError("unknown", f"no recorded decision {decision_id}")
    return row


def replay_decision(session: Session, decision_id: str, make_engine: EngineFactory) -> Replay:
    """Replay the recorded decision on its own revision, with an engine `make_engine` builds (and this closes)."""
    row = recorded_decision(session, decision_id)
    try:
        content = json.loads(row.record)
        recorded = content["decision"]
        revision = str(recorded["bundle_revision"])
        policy_input = policy_input_of(content)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        return Replay(row.decision_id, row.seq, row.kind, row.bundle_revision, row.outcome, None,
                      (Difference("record", "a decision and its input", f"unreadable ({exc.__class__.__name__}): the record was edited"),))
    facts: dict[str, Any] = {"decision_id": row.decision_id, "seq": row.seq, "kind": row.kind, "bundle_revision": revision,
             "recorded_outcome": outcome_of(recorded)}
    try:
        bundle = load_revision(session, revision)
    except BundleError as exc:
        return Replay(**facts, replayed_outcome=None, differences=(Difference("bundle revision", revision, f"not loadable: {exc}"),))
    if bundle is None:
        raise ReplayError("not_kept", f"bundle revision {revision} of decision {decision_id} was not kept "
                                      "(recorded before bundle revisions were stored), so it cannot be replayed")
    try:
        engine = make_engine(bundle)
    except (BundleError, EngineError) as exc:
        return Replay(**facts, replayed_outcome=None, differences=(Difference("engine", "a decision", f"no engine: {exc}"),))
    try:
        replayed = engine.evaluate(policy_input)
    finally:
        engine.close()
    return Replay(**facts, replayed_outcome=replayed.outcome.value, differences=tuple(differences(recorded, replayed)))


def differences(recorded: Mapping[str, Any], replayed: Decision) -> list[Difference]:
    """How the replayed decision differs from the recorded one: outcome, then per kind its rule ids and messages.
    Order within a kind carries no meaning (the policies return sets), so findings compare as multisets."""
    found = []
    if outcome_of(recorded) != replayed.outcome.value:
        found.append(Difference("outcome", outcome_of(recorded), replayed.outcome.value))
    for kind in FINDING_KINDS:
        before = _findings(recorded.get(kind, []))
        after = [(f.rule, f.message) for f in getattr(replayed, kind)]
        if Counter(rule for rule, _ in before) != Counter(rule for rule, _ in after):
            found.append(Difference(f"{kind} rules", sorted(r for r, _ in before), sorted(r for r, _ in after)))
        elif Counter(before) != Counter(after):
            changed = sorted(set(before) ^ set(after))
            found.append(Difference(f"{kind} messages", [m for m in changed if m in before], [m for m in changed if m in after]))
    failures = [f.message for f in replayed.deny if f.rule == ENGINE_FAILURE_RULE]
    if failures and not found:  # an engine failure is never a faithful replay, even of a recorded one
        found.append(Difference("engine", "a decision", failures[0]))
    return found


def _findings(items: Sequence[Any]) -> list[tuple[str, str]]:
    return [(str(f.get("rule", "")), str(f.get("message", ""))) for f in items if isinstance(f, Mapping)]


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(" ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for v in value) + "]"
    return str(value)


def embedded_engines(settings: Settings, workers: int = 1) -> EngineFactory:
    """Engines for replaying on a kept revision: always the embedded one, under the configured limits."""
    from govern.policy.engines.embedded import RegorusEngine  # lazy: the evaluator processes' module

    def make(bundle: PolicyBundle) -> PolicyEngine:
        return RegorusEngine(bundle, timeout_s=settings.evaluation_timeout_s, workers=workers,
                             memory_bytes=settings.evaluation_memory_mb << 20)

    return make
