"""Login sessions: sign in, rotate refresh tokens (reuse revokes the session), sign out, check access tokens.

Every access and refresh token names its session (`sid`); the session row is checked on every request, so
signing out or a detected reuse stops both kinds of token at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlmodel import col

from core.auth import passwords, tokens
from core.auth.identity import Identity, aware
from core.auth.tables import AuthSessionRow, OAuthGrantRow, UserRow
from core.auth.users import UserInfo, find_for_login, info
from core.db import get_engine, session_scope, utcnow
from core.errors import Unauthorized
from core.ids import new_id
from core.settings import Settings

log = logging.getLogger("stellarflow.auth")
BAD_CREDENTIALS = "Invalid username or password"


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    user: UserInfo

    def __repr__(self) -> str:  # keep tokens out of any accidental log line
        return f"TokenPair(session_id={self.session_id!r}, user={self.user.id!r})"

    __str__ = __repr__


def login(settings: Settings, identifier: str, password: str) -> TokenPair:
    """Same answer, and about the same time, for an unknown user, a wrong password or a disabled account."""
    user = check_password(identifier, password)
    pair = start_session(settings, user)
    log.info("login %s: session %s", user.id, pair.session_id)
    return pair


def check_password(identifier: str, password: str) -> UserInfo:
    """The user these credentials belong to (login, and the OAuth consent form); otherwise Unauthorized."""
    with session_scope() as session:
        row = find_for_login(session, identifier) if 0 < len(identifier) <= 320 else None
    valid = passwords.verify(row.password_hash if row else None, password)
    if row is None or not valid or row.disabled:
        log.info("login failed%s", f" for {row.id}" if row else " (unknown user)")
        raise Unauthorized(BAD_CREDENTIALS)
    if passwords.needs_rehash(row.password_hash):
        with session_scope() as session:
            session.exec(update(UserRow).where(col(UserRow.id) == row.id)
                         .values(password_hash=passwords.hash_password(password)))
    return info(row)


def start_session(settings: Settings, user: UserInfo, *, oauth_grant: OAuthGrantRow | None = None) -> TokenPair:
    """A new session for an already authenticated user (login; tests mint tokens with it). With `oauth_grant`
    the session belongs to an OAuth client: its tokens carry the grant's scope, and only that client may refresh."""
    session_id = new_id("ses")
    refresh_jti = new_id("jti")
    with session_scope() as session:
        session.add(AuthSessionRow(id=session_id, user_id=user.id, refresh_jti=refresh_jti,
                                   expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_s)))
        if oauth_grant is not None:
            oauth_grant.session_id = session_id
            oauth_grant.user_id = user.id
            session.add(oauth_grant)
    return _pair(settings, user, session_id, refresh_jti)


def _pair(settings: Settings, user: UserInfo, session_id: str, refresh_jti: str) -> TokenPair:
    access, _ = tokens.issue(settings, typ=tokens.ACCESS, sub=user.id, sid=session_id,
                             ttl_s=settings.access_token_ttl_s)
    refresh, _ = tokens.issue(settings, typ=tokens.REFRESH, sub=user.id, sid=session_id, jti=refresh_jti,
                              ttl_s=settings.refresh_token_ttl_s)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=settings.access_token_ttl_s,
                     session_id=session_id, user=user)


def refresh(settings: Settings, refresh_token: str, *, client_id: str | None = None) -> TokenPair:
    """Rotate: the presented refresh token is spent and a new pair is issued. Presenting a spent one again means
    it leaked (or was replayed), so the whole session is revoked and both holders must sign in again.
    `client_id` is the OAuth client refreshing (None: the login endpoints); a session refreshes only where it
    was issued, so an OAuth refresh token cannot be swapped for an unscoped pair at /auth/refresh."""
    claims = tokens.decode(settings, refresh_token, tokens.REFRESH)
    now = utcnow()
    reused = False
    with session_scope() as session:
        row = session.get(AuthSessionRow, claims.sid)
        if row is None or row.user_id != claims.sub or row.revoked_at is not None:
            raise Unauthorized("Session revoked")
        grant = session.get(OAuthGrantRow, claims.sid)
        if (grant.client_id if grant else None) != client_id:
            raise Unauthorized("Invalid token")
        if aware(row.expires_at) <= now:
            raise Unauthorized("Session expired")
        user = session.get(UserRow, row.user_id)
        if user is None or user.disabled:
            raise Unauthorized("Session revoked")
        new_jti = new_id("jti")
        rotated = session.exec(
            update(AuthSessionRow)
            .where(col(AuthSessionRow.id) == claims.sid, col(AuthSessionRow.refresh_jti) == claims.jti,
                   col(AuthSessionRow.revoked_at).is_(None))
            .values(refresh_jti=new_jti, refreshed_at=now,
                    expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s))
        )
        if rotated.rowcount != 1:
            reused = True
            session.exec(update(AuthSessionRow).where(col(AuthSessionRow.id) == claims.sid)
                         .values(revoked_at=now, revoked_reason="refresh token reused"))
    if reused:
        log.warning("refresh token reused on session %s: session revoked", claims.sid)
        raise Unauthorized("Refresh token already used; the session is revoked")
    return _pair(settings, info(user), claims.sid, new_jti)


def revoke_all(user_id: str, reason: str) -> None:
    """End every open session of a user (a password reset): their access and refresh tokens stop working."""
    with session_scope() as session:
        session.exec(update(AuthSessionRow)  # type: ignore[call-overload]
                     .where(col(AuthSessionRow.user_id) == user_id, col(AuthSessionRow.revoked_at).is_(None))
                     .values(revoked_at=utcnow(), revoked_reason=reason))


def logout(session_id: str, reason: str = "logout") -> None:
    with session_scope() as session:
        session.exec(update(AuthSessionRow)
                     .where(col(AuthSessionRow.id) == session_id, col(AuthSessionRow.revoked_at).is_(None))
                     .values(revoked_at=utcnow(), revoked_reason=reason))
    log.info("session %s ended (%s)", session_id, reason)


def check_access_token(settings: Settings, token: str) -> Identity:
    """The token's session must exist, belong to the token's user, not be revoked, and the user not be disabled:
    one query (session, user and any OAuth grant joined), on every request."""
    claims = tokens.decode(settings, token, tokens.ACCESS)
    sessions_t, users_t, grants_t = AuthSessionRow.__table__, UserRow.__table__, OAuthGrantRow.__table__
    query = (
        select(sessions_t.c.user_id, sessions_t.c.revoked_at, users_t.c.id, users_t.c.username, users_t.c.email,
               users_t.c.full_name, users_t.c.role, users_t.c.tier, users_t.c.disabled, users_t.c.created_at,
               grants_t.c.scope, grants_t.c.client_id)
        .select_from(sessions_t.join(users_t, users_t.c.id == sessions_t.c.user_id)
                     .outerjoin(grants_t, grants_t.c.session_id == sessions_t.c.id))
        .where(sessions_t.c.id == claims.sid)
    )
    with get_engine().connect() as connection:
        row = connection.execute(query).first()
    if row is None or row.user_id != claims.sub or row.revoked_at is not None or row.disabled:
        raise Unauthorized("Token revoked")
    user = UserInfo(id=row.id, username=row.username, email=row.email, fullName=row.full_name, role=row.role,
                    tier=row.tier, disabled=row.disabled, createdAt=row.created_at)
    if row.client_id is not None:
        return Identity(user=user, method="oauth", session_id=claims.sid, scopes=row.scope.split(),
                        client_id=row.client_id)
    return Identity(user=user, method="token", session_id=claims.sid)
