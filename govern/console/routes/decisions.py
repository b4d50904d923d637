"""`/ui/decisions`: the decision log searched by team, outcome, kind, rule, experiment and time, newest
first by cursor; `/ui/decisions/{id}`: one decision with every rule that fired (message, evidence,
remediation), its waivers, bundle revision, input hash and place in the log, with a button that verifies
the record's inclusion under a checkpoint signed now, and one that replays it (compliance)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from govern.api.deps import ReadSessionDep, authorization, listed_team, require
from govern.api.routes.audit import ActorNames
from govern.audit.merkle import ProofError
from govern.audit.replay import ReplayError, embedded_engines, recorded_decision, replay_decision
from govern.audit.search import DecisionFilters, experiment_of, rules_of, search_decisions
from govern.audit.tree import check_proof, prove
from govern.console.deps import CheckedFormDep, ConsoleRoute, SignedInDep, signing_key_or_reason
from govern.console.params import (
    Blank,
    CursorQuery,
    NameQuery,
    OutcomeQuery,
    PageSize,
    RuleQuery,
    SinceQuery,
    TeamQuery,
    UntilQuery,
)
from govern.console.templating import render
from govern.db.tables import DecisionRecord, SubmissionRecord
from govern.policy.engines import PolicyEngine
from govern.settings import Settings

router = APIRouter(prefix="/ui/decisions", route_class=ConsoleRoute)

DecisionId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("", include_in_schema=False)
def decisions(
    request: Request, signed_in: SignedInDep, session: ReadSessionDep,
    team: TeamQuery = None, outcome: OutcomeQuery = None, rule: RuleQuery = None, experiment: NameQuery = None,
    kind: Annotated[Literal["check", "submission"] | None, Blank, Query()] = None,
    since: SinceQuery = None, until: UntilQuery = None, cursor: CursorQuery = None, limit: PageSize = 50,
) -> HTMLResponse:
    engine: PolicyEngine = request.app.state.engine
    shown_team = listed_team(engine, signed_in.token, "decision.read", team)
    filters = DecisionFilters(team=shown_team, outcome=outcome, kind=kind, rule=rule, experiment=experiment, since=since, until=until)
    page = search_decisions(session, filters, before=cursor, limit=limit)
    asked = {"team": team or "", "outcome": outcome or "", "rule": rule or "", "experiment": experiment or "", "kind": kind or "",
             "since": request.query_params.get("since", ""), "until": request.query_params.get("until", ""), "limit": limit}
    return render(request, "decisions.html", page=page, asked=asked, listed_team=shown_team)


def _record(session: Session, decision_id: str) -> DecisionRecord:
    try:
        return recorded_decision(session, decision_id)
    except ReplayError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def _detail(request: Request, signed_in: Any, session: Session, decision_id: str, **outcome: Any) -> HTMLResponse:
    engine: PolicyEngine = request.app.state.engine
    row = _record(session, decision_id)
    require(engine, signed_in.token, "decision.read", {"team": row.team})
    try:
        content = json.loads(row.record)
    except ValueError:
        content = {}
    content = content if isinstance(content, dict) else {}
    decision = content.get("decision") if isinstance(content.get("decision"), dict) else {}
    submission = session.exec(select(SubmissionRecord).where(SubmissionRecord.decision_id == decision_id)).first()
    may = {action: authorization(engine, signed_in.token, action, {"team": row.team}).allow for action in ("audit.read", "audit.replay")}
    return render(
        request, "decision.html", row=row, decision=decision, rules=rules_of(content), experiment=experiment_of(content),
        actor_name=ActorNames(session)(row.actor), submission=submission, may=may, catalogue=engine.catalogue, **outcome,
    )


@router.get("/{decision_id}", include_in_schema=False)
def decision(request: Request, decision_id: DecisionId, signed_in: SignedInDep, session: ReadSessionDep) -> HTMLResponse:
    return _detail(request, signed_in, session, decision_id)


@router.post("/{decision_id}/verify", include_in_schema=False)
async def verify_record(request: Request, decision_id: DecisionId, signed_in: SignedInDep, _: CheckedFormDep, session: ReadSessionDep) -> HTMLResponse:
    """The record's inclusion proof under a checkpoint signed now, checked with the public key."""
    return await run_in_threadpool(_verified, request, signed_in, session, decision_id)


def _verified(request: Request, signed_in: Any, session: Session, decision_id: str) -> HTMLResponse:
    row = _record(session, decision_id)
    require(request.app.state.engine, signed_in.token, "audit.read", {"team": row.team})
    settings: Settings = request.app.state.settings
    key = signing_key_or_reason(settings)
    if isinstance(key, str):
        return _detail(request, signed_in, session, decision_id, verification={"ok": False, "message": key + " to verify against."})
    try:
        proof = prove(session, decision_id, settings.audit_log_origin, key, request.app.state.log_tree)
        if proof is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no record of this decision in the decision log")
        note = check_proof(proof.to_json(), settings.audit_log_origin, key.public_key())
    except ProofError as exc:
        return _detail(request, signed_in, session, decision_id, verification={"ok": False, "message": f"Verification failed: {exc}"})
    message = f"Record {row.seq} is in the log: its inclusion proof checks against a checkpoint of {note.size} records, signed now and verified with the public key."
    return _detail(request, signed_in, session, decision_id, verification={"ok": True, "message": message, "root": note.root_hash.hex()})


@router.post("/{decision_id}/replay", include_in_schema=False)
async def replay_record(request: Request, decision_id: DecisionId, signed_in: SignedInDep, _: CheckedFormDep, session: ReadSessionDep) -> HTMLResponse:
    return await run_in_threadpool(_replayed, request, signed_in, session, decision_id)


def _replayed(request: Request, signed_in: Any, session: Session, decision_id: str) -> HTMLResponse:
    row = _record(session, decision_id)
    require(request.app.state.engine, signed_in.token, "audit.replay", {"team": row.team})
    try:
        result = replay_decision(session, decision_id, embedded_engines(request.app.state.settings)).as_dict()
    except ReplayError as exc:
        result = {"identical": False, "differences": [], "error": str(exc)}
    return _detail(request, signed_in, session, decision_id, replay=result)
