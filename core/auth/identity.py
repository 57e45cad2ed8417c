"""Who is calling: the user behind a verified credential, and how they proved it."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from core.auth.users import UserInfo


class Identity(BaseModel):
    user: UserInfo
    method: str  # "token" (a JWT access token), "oauth" (one issued to an OAuth client) or "api_key"
    session_id: str | None = None
    key_id: str | None = None
    scopes: list[str] | None = None  # OAuth only: the granted scopes ("read", "write"); None = not narrowed
    client_id: str | None = None  # OAuth only: the client holding the token


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
