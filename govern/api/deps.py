"""Typed dependencies for the routes: the database session, the engine, and the authenticated token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

import anyio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from govern.audit.checkpoint import CheckpointError, load_private_key
from govern.audit.kept_tree import KeptTree
from govern.db.public import TokenPublic
from govern.db.readiness import SchemaGate
from govern.policy.decision import Authorization
from govern.policy.engines import PolicyEngine
from govern.records.tokens import TokenCache
from govern.settings import Settings

bearer = HTTPBearer(auto_error=False, description="An API token from `govern token create`.")


# The dependencies are coroutines so that FastAPI does not hand each of them to a worker thread: those hops
# (and the GIL hand-offs they bring) cost more than the work itself. Anything that blocks goes to the
# threadpool explicitly.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_policy_engine(request: Request) -> PolicyEngine:
    engine: PolicyEngine = request.app.state.engine
    return engine


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session that commits when the route succeeds and rolls back when it fails; routes that report a
    recorded fact commit it themselves before answering, and then nothing is left to do here. Until the
    schema is at the revision this version needs, every request is a 503 saying so."""
    await refuse_until_ready(request)
    with Session(request.app.state.db) as session:
        try:
            yield session
        except BaseException:
            if session.in_transaction():
                await _outside_the_pool(session.rollback)
            raise
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            await _outside_the_pool(session.commit)


async def _outside_the_pool(finish: Callable[[], None]) -> None:
    """Finish a transaction on a thread of its own, as FastAPI does for the exit of sync dependencies: were it
    to wait for a threadpool slot, and every slot be held by requests waiting for this transaction's row
    locks, nothing would move again."""
    await anyio.to_thread.run_sync(finish, limiter=anyio.CapacityLimiter(1))


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A session for reads only (govern.db.database.reading): it takes no write lock on SQLite and is READ
    ONLY on PostgreSQL. Nothing is committed; the transaction ends with the request, or sooner when the route
    ends it to give the connection back."""
    await refuse_until_ready(request)
    with Session(request.app.state.reader) as session:
        yield session
        if session.in_transaction():  # a read the route left open ends off the event loop, like a write
            await _outside_the_pool(session.rollback)


async def refuse_until_ready(request: Request) -> None:
    """A 503 naming why, until the schema is at the revision this version needs."""
    schema: SchemaGate = request.app.state.schema
    if not schema.ready and (problem := await run_in_threadpool(schema.problem)):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, problem)


async def get_kept_tree(request: Request) -> KeptTree:
    kept: KeptTree = request.app.state.log_tree
    return kept


SettingsDep = Annotated[Settings, Depends(get_settings)]
KeptTreeDep = Annotated[KeptTree, Depends(get_kept_tree)]
PolicyEngineDep = Annotated[PolicyEngine, Depends(get_policy_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]


async def get_current_token(
    request: Request, session: ReadSessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> TokenPublic:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    tokens: TokenCache = request.app.state.tokens
    token = tokens.remembered(credentials.credentials) or await run_in_threadpool(_look_up, tokens, session, credentials.credentials)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked token", {"WWW-Authenticate": "Bearer"})
    return token


TokenDep = Annotated[TokenPublic, Depends(get_current_token)]


def _look_up(tokens: TokenCache, session: Session, secret: str) -> TokenPublic | None:
    """Look the token up and give the connection back at once: a request holding one while it waits for a
    thread to run its route could hold them all, with every thread waiting for a connection (a deadlock
    that needs only more clients than threads and a token cache that just expired)."""
    try:
        return tokens.authenticate(session, secret)
    finally:
        session.close()


def require(engine: PolicyEngine, token: TokenPublic, action: str, resource: dict[str, Any]) -> None:
    """Ask the authorization policy; a denial is a 403 that says why."""
    answer = authorization(engine, token, action, resource)
    if not answer.allow:
        raise HTTPException(status.HTTP_403_FORBIDDEN, answer.reason)


def listed_team(engine: PolicyEngine, token: TokenPublic, action: str, team: str | None) -> str | None:
    """The team a listing covers: the one asked for, if the token may read it; without one, every team (None)
    for a token that may read any, else the token's own team, as the help promises submitters."""
    if not team:
        if authorization(engine, token, action, {"team": "*"}).allow:
            return None
        team = token.team
    require(engine, token, action, {"team": team})
    return team


def sandbox_reader(engine: PolicyEngine, token: TokenPublic) -> Callable[[str], bool]:
    """Whether the token may read a team's sandboxes: what a decision's live context may show it of
    another team's sandbox (govern.records.live_context.context_for)."""
    return lambda team: authorization(engine, token, "sandbox.read", {"team": team}).allow


def authorization(engine: PolicyEngine, token: TokenPublic, action: str, resource: dict[str, Any]) -> Authorization:
    """The authorization policy's answer for the token, for routes that need more than a yes (`require`)."""
    return engine.authorize(
        {"token": {"id": str(token.id), "role": token.role.value, "team": token.team}, "action": action, "resource": resource}
    )


Changed = TypeVar("Changed")


def decide_on(
    record: Any, what: str, permission: str, engine: PolicyEngine, token: TokenPublic, session: Session, change: Callable[[], Changed]
) -> Changed:
    """The shape every approve/reject/revoke route shares: 404 for an unknown record, the authorization
    policy (told who requested it, for separation of duties), the change, and a commit before answering; a
    change the records refuse is the 4xx its RecordError names (govern.api.create_app's handler)."""
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {what}")
    require(engine, token, permission, {"team": record.team, "requestedBy": record.requested_by})
    changed = change()
    session.commit()
    return changed


def audit_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key that signs checkpoints, proofs and evidence packs, read per request (a rotated key takes effect at
    once, and the key is never kept where a crash report could show it); 503 when there is none to read."""
    if settings.audit_signing_key is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "this service has no GOVERN_AUDIT_SIGNING_KEY, so it signs no checkpoints, proofs or evidence packs")
    try:
        return load_private_key(settings.audit_signing_key)
    except CheckpointError:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "this service cannot read its GOVERN_AUDIT_SIGNING_KEY") from None
