"""API tokens: created with a role and a team, shown once, stored only as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid

from sqlmodel import Session, col, select

from govern.db.public import TokenCreate, TokenPublic
from govern.db.tables import ApiToken, utcnow

TOKEN_PREFIX = "gov_"


def hash_token(secret: str) -> str:
    """SHA-256 suffices: tokens are 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, request: TokenCreate) -> tuple[TokenPublic, str]:
    """Store a new token and return it with its secret, which is not kept anywhere."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=request.name,
        role=request.role.value,
        team=request.team,
        token_hash=hash_token(secret),
        prefix=secret[:12],
    )
    session.add(row)
    session.flush()
    return TokenPublic.model_validate(row), secret


def authenticate(session: Session, secret: str) -> TokenPublic | None:
    """The live token with this secret, or None (unknown and revoked tokens look the same)."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    return TokenPublic.model_validate(row)


class TokenCache:
    """Tokens that authenticated in the last `ttl_s` seconds, so a busy client is not looked up on every
    request. The price: a revoked token keeps working for up to `ttl_s` seconds in each server process
    (GOVERN_TOKEN_CACHE_S; 0 looks every request up). Unknown tokens are never remembered."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, TokenPublic]] = {}

    def remembered(self, secret: str) -> TokenPublic | None:
        """The token, if it authenticated less than `ttl_s` seconds ago (no database involved)."""
        entry = self._entries.get(hash_token(secret))
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def authenticate(self, session: Session, secret: str) -> TokenPublic | None:
        """Look the token up and remember it if it is live."""
        token = authenticate(session, secret)
        if token is None or self.ttl_s <= 0:
            return token
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[hash_token(secret)] = (time.monotonic() + self.ttl_s, token)
        return token


def revoke_token(session: Session, token_id: uuid.UUID) -> TokenPublic | None:
    row = session.get(ApiToken, token_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return TokenPublic.model_validate(row)


def list_tokens(session: Session, team: str | None = None) -> list[TokenPublic]:
    query = select(ApiToken).order_by(col(ApiToken.created_at))
    if team:
        query = query.where(ApiToken.team == team)
    return [TokenPublic.model_validate(row) for row in session.exec(query)]
