"""`/api/auth` bodies (api/dialect1/presenters/auth.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from api.dialect1.schemas.responses.common import Open, Timestamp


class TokenV1(Open):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…", "expires_in": 3600,
        "refresh_token": "rt_01J9Z6X1QH5V2M8T4K7W3R0ABM…", "token_type": "Bearer"}]})
    token: str = Field(description="a JWT access token: `Authorization: Bearer <token>`")
    expires_in: int = Field(description="seconds")
    refresh_token: str = Field(description="spent by `POST /api/auth/refresh` (rotating)")
    token_type: Literal["Bearer"]


class ApiKeyV1(Open):
    id: str
    name: str
    prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    expires_at: Timestamp | None
    key: str | None = Field(default=None, description="the key itself: in the creation answer only")


class ApiKeyListV1(Open):
    keys: list[ApiKeyV1]
    total: int
