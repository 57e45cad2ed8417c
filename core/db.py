"""Database tables and engine. SQLite file by default, PostgreSQL through DATABASE_URL.

The database holds what is not a run (definitions, idempotency keys, deployment slots, users, login sessions,
API keys) and the read side of runs: the append-only `events` table and the `runs` projection used by list views.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, event
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, create_engine


def utcnow() -> datetime:
    return datetime.now(UTC)


class WorkflowRow(SQLModel, table=True):
    __tablename__ = "workflows"
    id: str = Field(primary_key=True)
    name: str
    description: str | None = None
    version: int = 1
    content_hash: str
    source: str = "api"  # "api" or "file:<path>"
    status: str = "active"  # active | deleted
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WorkflowVersionRow(SQLModel, table=True):
    __tablename__ = "workflow_versions"
    workflow_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    content_hash: str
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class RunRow(SQLModel, table=True):
    """Projection of one PipelineWorkflow run, overwritten by newer snapshots only (`seq` grows)."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_workflow_created", "workflow_id", "created_at"),)
    id: str = Field(primary_key=True)
    workflow_id: str = Field(index=True)
    version: int
    status: str = Field(index=True)
    seq: int = 0
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("resource_id", "seq", name="uq_events_resource_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    resource_id: str = Field(index=True)
    seq: int
    type: str
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IdempotencyRow(SQLModel, table=True):
    """One use of an `Idempotency-Key` (core/idempotency.py): whose, on which method and path (an HMAC of all of
    that and the key is the id, so the key is not stored), the request's fingerprint, who holds it while the first
    request is in flight, and — once that answered 2xx — its response, encrypted under a key derived from the
    server secret and the raw key, so this table alone reveals no response (some hold a secret shown once)."""

    __tablename__ = "idempotency_requests"
    id: str = Field(primary_key=True)
    request_hash: str
    owner: str  # the claim of the request in flight (or that finished)
    locked_until: datetime  # an in-flight claim older than this was abandoned (a crashed process) and may be taken
    status_code: int | None = None  # set once the response is stored
    response: str | None = None  # base64 of nonce + AES-GCM ciphertext of the response
    created_at: datetime = Field(default_factory=utcnow, index=True)  # keys expire 24 h after this


class DeploymentRow(SQLModel, table=True):
    """Which blue-green slot is live per environment, and what was last deployed there."""

    __tablename__ = "deployments"
    environment: str = Field(primary_key=True)
    live_slot: str | None = None
    version: str | None = None
    run_id: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)



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

def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    return engine


def get_engine() -> Engine:
    from core.settings import get_settings

    return engine_for(get_settings().db_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: committed on success, rolled back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


# Tables defined next to their domain register themselves on SQLModel.metadata when imported.
import core.agents.tables  # noqa: E402, F401
import core.memory.tables  # noqa: E402, F401
