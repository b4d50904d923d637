"""`GET /v1/lineage/outbox`: how far lineage delivery has got with the events govern wrote."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from govern.api.deps import PolicyEngineDep, SessionDep, TokenDep, require
from govern.api.refusals import refusals
from govern.lineage import outbox

router = APIRouter(prefix="/v1")


@router.get("/lineage/outbox", tags=["lineage"], responses=refusals(403))
def lineage_outbox(token: TokenDep, engine: PolicyEngineDep, session: SessionDep) -> dict[str, Any]:
    """The lineage delivery backlog: pending, failing and delivered events, the oldest waiting, the last error."""
    require(engine, token, "lineage.read", {"team": "*"})
    return outbox.backlog(session).as_dict()
