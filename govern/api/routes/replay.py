"""`GET /v1/audit/decisions/{id}` (one record, as the export gives it: the link target of an impact report's
changed decisions) and `POST /v1/audit/decisions/{id}/replay` (compliance): the decision's recorded input
evaluated again on its recorded bundle revision (govern.audit.replay)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlmodel import Session

from govern.api.deps import PolicyEngineDep, ReadSessionDep, SettingsDep, TokenDep, require
from govern.api.refusals import refusals
from govern.api.routes.audit import ActorNames, export_row
from govern.audit.replay import ReplayError, embedded_engines, recorded_decision, replay_decision
from govern.db.tables import DecisionRecord

router = APIRouter(prefix="/v1/audit", tags=["audit"])

DecisionId = Annotated[str, Path(min_length=1, max_length=64, description="The decision's decision_id.")]


class DifferencePublic(BaseModel):
    what: str = Field(description="What differs: outcome, `deny rules`, `warn messages`, engine, bundle revision, ...")
    recorded: Any
    replayed: Any


class ReplayPublic(BaseModel):
    """Whether the recorded decision replays identically on its own bundle revision, and if not, how it differs."""

    decision_id: str
    seq: int
    kind: str
    bundle_revision: str
    recorded_outcome: str
    replayed_outcome: str | None = Field(description="None when the replay could not evaluate at all (a difference).")
    identical: bool
    differences: list[DifferencePublic]


def _record(session: Session, decision_id: str) -> DecisionRecord:
    try:
        return recorded_decision(session, decision_id)
    except ReplayError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.get("/decisions/{decision_id}", responses=refusals(403, 404))
def decision(decision_id: DecisionId, token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep) -> dict[str, Any]:
    """One recorded decision as a row of the JSON Lines export gives it (compliance and admin)."""
    row = _record(session, decision_id)
    require(engine, token, "audit.read", {"team": row.team})
    return export_row(row, ActorNames(session))


@router.post("/decisions/{decision_id}/replay", responses=refusals(403, 404, 409))
def replay(
    decision_id: DecisionId, token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep, settings: SettingsDep
) -> ReplayPublic:
    """Evaluate the decision's recorded (redacted) input on its recorded bundle revision and compare the outcome,
    rule ids and messages (compliance and admin); 409 when that revision was not kept."""
    row = _record(session, decision_id)
    require(engine, token, "audit.replay", {"team": row.team})
    try:
        result = replay_decision(session, decision_id, embedded_engines(settings))
    except ReplayError as exc:
        code = status.HTTP_404_NOT_FOUND if exc.reason == "unknown" else status.HTTP_409_CONFLICT
        raise HTTPException(code, str(exc)) from None
    return ReplayPublic.model_validate(result.as_dict())
