"""`GET /v1/submissions/{id}/evidence`: a submission's evidence pack (govern.audit.evidence), for compliance
and admin, signed with the service's GOVERN_AUDIT_SIGNING_KEY; without one the service refuses (503)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status
from sqlmodel import Session, select

from govern.api.deps import KeptTreeDep, PolicyEngineDep, SessionDep, SettingsDep, TokenDep, audit_signing_key, require
from govern.api.refusals import refusals
from govern.audit.evidence.layout import name_part
from govern.audit.evidence.pack import PackTooLarge, build_pack
from govern.audit.kept_tree import KeptTree
from govern.db.public import TokenPublic
from govern.db.tables import SubmissionRecord
from govern.policy.engines import PolicyEngine
from govern.settings import Settings

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/submissions/{submission_id}/evidence", response_class=Response,
    responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}, **refusals(403, 404, 409, 503)},
)
def get_evidence(
    submission_id: str, token: TokenDep, engine: PolicyEngineDep, session: SessionDep, settings: SettingsDep, kept: KeptTreeDep,
) -> Response:
    """The submission's evidence pack as a zip (compliance and admin); verify it offline with
    `govern audit verify-pack FILE.zip --public-key PATH.pub`. 503 when the service has no signing key."""
    return evidence_pack(session, engine, token, settings, submission_id, kept)


def evidence_pack(
    session: Session, engine: PolicyEngine, token: TokenPublic, settings: Settings, submission_id: str, kept: KeptTree | None = None,
) -> Response:
    """The pack as a zip download, for a token allowed `audit.read` on the submission's team (the API's and
    the console's one path)."""
    team = session.exec(select(SubmissionRecord.team).where(SubmissionRecord.id == submission_id)).first()
    require(engine, token, "audit.read", {"team": team or ""})
    if team is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no submission {submission_id!r}")
    key = audit_signing_key(settings)
    try:
        data = build_pack(session, submission_id, settings.audit_log_origin, key, kept=kept)
    except PackTooLarge as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no submission {submission_id!r}")
    filename = f"evidence-{name_part(submission_id)}.zip"
    return Response(data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{filename}"'})
