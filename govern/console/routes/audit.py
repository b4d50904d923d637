"""`/ui/audit`: verify the decision log as `govern audit verify` does (the hash chain, then the Merkle tree
against a checkpoint signed now, and against one the officer kept, if pasted), show the latest checkpoint,
and export the log as CSV or JSON Lines with the page's filters through the API's own export."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlmodel import Session

from govern.api.deps import ReadSessionDep, require
from govern.api.routes.audit import exported_decisions
from govern.audit.anchors import Anchor, AnchorRefused, check_log, read_checkpoint
from govern.audit.checkpoint import MAX_FILE_BYTES, CheckpointError
from govern.audit.kept_tree import KeptTree
from govern.audit.note import open_note
from govern.audit.tree import signed_checkpoint
from govern.console.deps import CheckedFormDep, ConsoleRoute, SignedInDep, signing_key_or_reason
from govern.console.params import OutcomeQuery, RuleQuery, SinceQuery, TeamQuery, UntilQuery
from govern.console.templating import render
from govern.settings import Settings

router = APIRouter(prefix="/ui/audit", route_class=ConsoleRoute)

SIGNED_NOW = "the checkpoint signed now"
KEPT = "the checkpoint you gave"


def _filters(request: Request) -> dict[str, str]:
    """The page's export filters as asked, for the form and the export links."""
    return {name: request.query_params.get(name, "") for name in ("team", "outcome", "rule", "since", "until")}


@router.get("", include_in_schema=False)
def audit(
    request: Request, signed_in: SignedInDep, session: ReadSessionDep,
    team: TeamQuery = None, outcome: OutcomeQuery = None, rule: RuleQuery = None, since: SinceQuery = None, until: UntilQuery = None,
) -> HTMLResponse:
    """The filters are validated here too, so the export links never carry one the export would refuse."""
    require(request.app.state.engine, signed_in.token, "audit.read", {"team": team or ""})
    return _page(request, session)


def _page(request: Request, session: Session, **outcome: Any) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    checkpoint: dict[str, Any] = outcome.pop("checkpoint", None) or _latest_checkpoint(session, settings, request.app.state.log_tree)
    return render(request, "audit.html", asked=_filters(request), checkpoint=checkpoint, origin=settings.audit_log_origin, **outcome)


def _audit_key(settings: Settings) -> Ed25519PrivateKey | str:
    key = signing_key_or_reason(settings)
    return key if not isinstance(key, str) else key + ": the log is verified by its hash chain alone."


def _latest_checkpoint(session: Session, settings: Settings, kept: KeptTree) -> dict[str, Any]:
    key = _audit_key(settings)
    if isinstance(key, str):
        return {"note": None, "message": key}
    note, leaves = signed_checkpoint(session, settings.audit_log_origin, key, kept)
    return {"note": note, "size": len(leaves)}


@router.post("/verify", include_in_schema=False)
async def verify_log(request: Request, signed_in: SignedInDep, form: CheckedFormDep, session: ReadSessionDep) -> HTMLResponse:
    """Walks the whole log, so off the event loop."""
    kept = form.get("checkpoint", "")
    if len(kept) > MAX_FILE_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"a checkpoint is at most {MAX_FILE_BYTES} bytes")
    return await run_in_threadpool(_verified, request, signed_in, session, kept.replace("\r\n", "\n").strip())


def _verified(request: Request, signed_in: Any, session: Session, kept: str) -> HTMLResponse:
    require(request.app.state.engine, signed_in.token, "audit.read", {"team": ""})
    settings: Settings = request.app.state.settings
    key = _audit_key(settings)
    anchors: list[Anchor] = []
    if kept:
        if isinstance(key, str):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "this service has no signing key, so no public key to check a checkpoint with: use `govern audit verify --checkpoint FILE --public-key PATH.pub`")
        try:
            anchors.append(read_checkpoint(kept + "\n", KEPT, KEPT, settings.audit_log_origin, key.public_key()))
        except CheckpointError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        except AnchorRefused as exc:
            return _page(request, session, verification=_refused(exc))
    checkpoint: dict[str, Any] | None = None
    if not isinstance(key, str):
        note, leaves = signed_checkpoint(session, settings.audit_log_origin, key, request.app.state.log_tree)
        opened = open_note(note, settings.audit_log_origin, key.public_key())
        anchors.append(Anchor(SIGNED_NOW, SIGNED_NOW, opened.size, root_hash=opened.root_hash))
        checkpoint = {"note": note, "size": len(leaves)}
    try:
        outcome = check_log(session, anchors)
    except AnchorRefused as exc:
        return _page(request, session, verification=_refused(exc))
    matches = [{"label": anchor.label, "records": anchor.records, "appended": outcome.records - anchor.records} for anchor in anchors]
    verification = {"ok": outcome.problem is None, "records": outcome.records, "head": outcome.head_hash, "problem": outcome.problem,
                    "matches": matches if outcome.problem is None else []}
    if outcome.problem is not None:
        checkpoint = {"note": None, "message": "No checkpoint is shown for a log that does not verify."}
    return _page(request, session, verification=verification, checkpoint=checkpoint)


def _refused(exc: AnchorRefused) -> dict[str, Any]:
    """A checkpoint the key did not sign, or out of order: nothing was walked."""
    return {"ok": False, "records": None, "head": "", "problem": str(exc), "matches": []}


@router.get("/export", include_in_schema=False)
def export(
    request: Request, signed_in: SignedInDep,
    export_format: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
    team: TeamQuery = None, outcome: OutcomeQuery = None, rule: RuleQuery = None, since: SinceQuery = None, until: UntilQuery = None,
) -> StreamingResponse:
    """`GET /v1/audit/decisions` for a browser, which has a session cookie rather than a bearer token."""
    require(request.app.state.engine, signed_in.token, "audit.read", {"team": team or ""})
    response = exported_decisions(request.app.state.db, export_format, team=team, outcome=outcome, rule=rule, since=since, until=until)
    response.headers["content-disposition"] = f'attachment; filename="decisions.{export_format}"'
    return response
