"""Console sessions: a random id in an HttpOnly cookie, only its SHA-256 in the database, standing for the
API token that signed in (whose secret is never kept). A session ends when it signs out, sits idle past
GOVERN_CONSOLE_IDLE_S, reaches GOVERN_CONSOLE_SESSION_S, or its token is revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col

from govern.db.public import TokenPublic
from govern.db.tables import ApiToken, ConsoleSessionRecord
from govern.records.errors import as_utc

COOKIE = "govern_console"
TOUCH_EVERY = timedelta(seconds=60)
"""How stale last_seen_at may get before a request writes it: idle expiry is exact to within this, and a
busy page does not write a row per request."""
MAX_COOKIE_CHARS = 100


@dataclass(frozen=True)
class SignedIn:
    """Who a console request acts for, and the CSRF token its forms must carry."""

    token: TokenPublic
    csrf_token: str
    id_hash: str


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(session: Session, token: TokenPublic, now: datetime, lifetime_s: int) -> tuple[str, SignedIn]:
    """A new session for the token: the cookie's value (shown only to the browser) and what it signs in as.
    Expired sessions are swept here, so the table holds only live ones and those not yet noticed."""
    session.execute(delete(ConsoleSessionRecord).where(col(ConsoleSessionRecord.expires_at) <= now))
    session_id = secrets.token_urlsafe(32)
    row = ConsoleSessionRecord(
        id_hash=_hashed(session_id), token_id=token.id, csrf_token=secrets.token_urlsafe(32),
        created_at=now, last_seen_at=now, expires_at=now + timedelta(seconds=lifetime_s),
    )
    session.add(row)
    return session_id, SignedIn(token, row.csrf_token, row.id_hash)


def resume(session: Session, session_id: str, now: datetime, idle_s: int) -> SignedIn | None:
    """The live session the cookie names, its idle clock restarted; None (and the row gone) when it has
    expired, sat idle too long or its token was revoked."""
    if not session_id or len(session_id) > MAX_COOKIE_CHARS:
        return None
    row = session.get(ConsoleSessionRecord, _hashed(session_id))
    if row is None:
        return None
    token = session.get(ApiToken, row.token_id)
    if token is None or token.revoked_at is not None or now >= as_utc(row.expires_at) or now - as_utc(row.last_seen_at) > timedelta(seconds=idle_s):
        session.delete(row)
        return None
    if now - as_utc(row.last_seen_at) > TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
    return SignedIn(TokenPublic.model_validate(token), row.csrf_token, row.id_hash)


def close_session(session: Session, id_hash: str) -> None:
    session.execute(delete(ConsoleSessionRecord).where(col(ConsoleSessionRecord.id_hash) == id_hash))
