"""`/api/v2/auth` bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
