"""`GET /v1/policy` (the active bundle and its rule catalogue) and `POST /v1/policy/reload` (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from govern.api.deps import PolicyEngineDep, TokenDep, require
from govern.api.live_policy import install_bundle
from govern.api.refusals import refusals
from govern.api.schemas import PolicyInfo
from govern.policy.bundle import BundleError, load_configured_bundle
from govern.policy.engines import EngineError

router = APIRouter(prefix="/v1/policy", tags=["policy"])


def _info(request: Request) -> PolicyInfo:
    bundle, engine = request.app.state.bundle, request.app.state.engine
    if bundle is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no policy bundle is loaded: {engine.bundle_revision}")
    return PolicyInfo(revision=bundle.manifest_revision, bundle_revision=bundle.revision, engine=engine.name, rules=bundle.catalogue)


@router.get("", responses=refusals(503))
def policy(request: Request, token: TokenDep) -> PolicyInfo:
    """The active bundle's revision and rule catalogue (any valid token)."""
    return _info(request)


@router.post("/reload", responses=refusals(403, 422, 503))
def reload(request: Request, token: TokenDep, engine: PolicyEngineDep) -> PolicyInfo:
    """Load the configured bundle again and swap it in atomically; a bundle that fails `govern policy check`
    is refused with 422 and the running one stays."""
    require(engine, token, "policy.reload", {})
    try:
        install_bundle(request.app, load_configured_bundle(request.app.state.settings))
    except (BundleError, EngineError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bundle refused, the running one stays: {exc}") from None
    return _info(request)
