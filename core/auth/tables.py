"""Tables of users and their credentials: accounts, login sessions, API keys, and OAuth 2.0 clients, consents,
codes and grants. Secrets are never stored: only HMACs or argon2 hashes of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from core.db import utcnow


class UserRow(SQLModel, table=True):
    """A person or robot that signs in. `username_key`/`email` are lower-cased, so uniqueness ignores case."""

    __tablename__ = "users"
    id: str = Field(primary_key=True)
    username: str
    username_key: str = Field(unique=True)
    email: str | None = Field(default=None, unique=True)
    full_name: str | None = None
    password_hash: str
    role: str = "developer"  # admin | developer | viewer
    tier: str = "free"  # free | pro | enterprise
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AuthSessionRow(SQLModel, table=True):
    """One login. Access tokens name it (`sid`) and are checked against it on every request; `refresh_jti` is
    the only refresh token of it that may still be used (rotation), so presenting an older one is reuse."""

    __tablename__ = "auth_sessions"
    id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    refresh_jti: str
    created_at: datetime = Field(default_factory=utcnow)
    refreshed_at: datetime | None = None
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None


class ApiKeyRow(SQLModel, table=True):
    """An API key: only its HMAC-SHA256 (keyed with the server secret) is stored, plus a display prefix."""

    __tablename__ = "api_keys"
    id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    name: str
    prefix: str
    secret_hash: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class OAuthClientRow(SQLModel, table=True):
    """An OAuth 2.0 client (core/auth/oauth_clients.py). A confidential client has an HMAC of its secret; a public
    one (`token_endpoint_auth_method` "none") has none and must use PKCE. Redirect URIs match exactly."""

    __tablename__ = "oauth_clients"
    id: str = Field(primary_key=True)
    owner_id: str = Field(index=True)
    name: str
    secret_hash: str | None = None
    token_endpoint_auth_method: str  # "none" (public) | "client_secret_basic" (basic or post accepted)
    redirect_uris: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scopes: str  # space-separated subset of "read write"
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class OAuthConsentRow(SQLModel, table=True):
    """An authorization request waiting on the consent form: the validated query, bound to the browser (a hash
    of its cookie), single use. Only a hash of the transaction id the form carries is stored."""

    __tablename__ = "oauth_consents"
    id_hash: str = Field(primary_key=True)
    browser_hash: str
    client_id: str
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class OAuthCodeRow(SQLModel, table=True):
    """An authorization code (only its HMAC is stored): single use, short-lived, bound to client, redirect URI,
    user, scope and PKCE challenge. Kept after use so a replay can revoke the session it was exchanged for."""

    __tablename__ = "oauth_codes"
    code_hash: str = Field(primary_key=True)
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    reused_at: datetime | None = None
    session_id: str | None = None


class OAuthGrantRow(SQLModel, table=True):
    """The OAuth side of an `auth_sessions` row: which client holds the session and with which scope."""

    __tablename__ = "oauth_grants"
    session_id: str = Field(primary_key=True)
    client_id: str = Field(index=True)
    user_id: str
    scope: str
    created_at: datetime = Field(default_factory=utcnow)
