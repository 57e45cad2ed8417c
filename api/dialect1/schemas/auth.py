"""`/api/auth` bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TEN_YEARS_S = 10 * 365 * 24 * 3600


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"username": "user@example.com", "password": "SecureP@ssw0rd!"}]})
    username: str = Field(min_length=1, max_length=320, description="username or e-mail address")
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=4096)


class KeyCreateV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    expires_in: int | None = Field(default=None, ge=60, le=TEN_YEARS_S, description="seconds; default: never")
