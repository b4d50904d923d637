"""`GET /v1/policy` (the active bundle and its rule catalogue), `GET /v1/policy/revisions` (every kept revision,
compliance) and `POST /v1/policy/reload` (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import Field

from govern.api.deps import PolicyEngineDep, ReadSessionDep, SessionDep, TokenDep, require
from govern.api.live_policy import RELOAD_POLL_S
from govern.api.refusals import refusals
from govern.api.schemas import PolicyInfo
from govern.db.public import PolicyRevisionPublic
from govern.policy.bundle import BundleError
from govern.policy.engines import EngineError
from govern.records.policy_revisions import revisions

router = APIRouter(prefix="/v1/policy", tags=["policy"])


class PolicyReloaded(PolicyInfo):
    """The bundle now in use here, and the reload's generation, which the other server processes follow."""

    generation: int = Field(
        description=f"This reload's number: every server process loads the bundle again within about {RELOAD_POLL_S:g} s of it."
    )


def _info(request: Request) -> PolicyInfo:
    bundle, engine = request.app.state.bundle, request.app.state.engine
    if bundle is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no policy bundle is loaded: {engine.bundle_revision}")
    return PolicyInfo(revision=bundle.manifest_revision, bundle_revision=bundle.revision, engine=engine.name, rules=bundle.catalogue)


@router.get("", responses=refusals(503))
def policy(request: Request, token: TokenDep) -> PolicyInfo:
    """The active bundle's revision and rule catalogue (any valid token)."""
    return _info(request)


@router.get("/revisions", responses=refusals(403))
def policy_revisions(request: Request, token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep) -> list[PolicyRevisionPublic]:
    """Every bundle revision that has decided here, kept so any decision can be replayed on it, the most
    recently active first (compliance and admin)."""
    require(engine, token, "audit.read", {})
    current = engine.bundle_revision
    return [PolicyRevisionPublic.model_validate(row).model_copy(update={"active": row.revision == current}) for row in revisions(session)]


@router.post("/reload", responses=refusals(403, 422, 503))
def reload(request: Request, session: SessionDep, token: TokenDep, engine: PolicyEngineDep) -> PolicyReloaded:
    """Load the configured bundle again and swap it in atomically, in this server process at once and in the
    others within about a second; a bundle that fails `govern policy check` is refused with 422 and the
    running one stays."""
    require(engine, token, "policy.reload", {})
    try:
        generation = request.app.state.policy_follower.reload(session)
    except (BundleError, EngineError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bundle refused, the running one stays: {exc}") from None
    return PolicyReloaded(**_info(request).model_dump(), generation=generation)
