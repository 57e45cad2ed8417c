"""`/api/v2/auth` bodies; and what the routes answer (a user, a token pair, the caller, an API key), for the
OpenAPI document (api/dialect2/presenters/auth.py builds them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.dialect2.schemas.documents import Document, Meta, _Open

TEN_YEARS_S = 10 * 365 * 24 * 3600


class RegisterBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"username": "developer123", "email": "dev@example.com", "password": "SecureP@ssw0rd!",
         "fullName": "John Developer"}]})
    username: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    fullName: str | None = Field(default=None, max_length=200)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"username": "developer123", "password": "SecureP@ssw0rd!"}]})
    username: str = Field(min_length=1, max_length=320, description="username or e-mail address")
    password: str = Field(min_length=1, max_length=1024)


class RefreshBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refreshToken: str = Field(min_length=1, max_length=4096)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    expiresIn: int | None = Field(default=None, ge=60, le=TEN_YEARS_S, description="seconds; default: never")


# ---- what the routes answer ------------------------------------------------------------------------------------


class User(_Open):
    id: str = Field(examples=["usr-abc123"])
    username: str = Field(examples=["developer123"])
    email: str | None = Field(default=None, examples=["dev@example.com"])
    fullName: str | None = Field(default=None, examples=["John Developer"])
    role: str = Field(examples=["developer"])
    createdAt: str


class TokenUser(_Open):
    id: str = Field(examples=["usr-abc123"])
    username: str = Field(examples=["developer123"])
    role: str = Field(examples=["developer"])
    permissions: list[str] = Field(examples=[["swarms:manage", "agents:create", "tasks:execute"]])


class TokenPair(_Open):
    """An access token and its refresh token (spent at its first use). `user` on login only."""

    accessToken: str = Field(examples=["eyJhbGciOiJSUzI1NiIs..."])
    refreshToken: str = Field(examples=["eyJhbGciOiJSUzI1NiIs..."])
    tokenType: Literal["Bearer"]
    expiresIn: int = Field(description="seconds the access token is valid", examples=[604800])
    user: TokenUser | None = None


class Me(_Open):
    """The caller, as the server authenticated it."""

    id: str
    username: str
    role: str
    permissions: list[str]
    tier: str = Field(examples=["free"])
    authMethod: str = Field(description="`token` (JWT), `oauth` (a JWT issued to an OAuth client) or `api_key`",
                            examples=["token"])


class ApiKeyLinks(_Open):
    self: str = Field(examples=["/api/v2/auth/keys/key-abc123"])


class ApiKey(_Open):
    """An API key's metadata; `key` itself only in the answer that created it."""

    id: str
    name: str
    prefix: str = Field(description="the key's first characters, to recognise it")
    createdAt: str
    lastUsedAt: str | None = None
    expiresAt: str | None = Field(default=None, description="null: never")
    links: ApiKeyLinks
    key: str | None = Field(default=None, description="the key: shown once, at creation")


class CountMeta(Meta):
    total: int = Field(ge=0)


class ApiKeyList(Document[list[ApiKey]]):
    meta: CountMeta
