"""Tokens and API keys (`/api/auth`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from core.auth.api_keys import ApiKeyInfo
from core.auth.sessions import TokenPair


def token(pair: TokenPair) -> dict[str, Any]:
    return {"token": pair.access_token, "expires_in": pair.expires_in, "refresh_token": pair.refresh_token,
            "token_type": "Bearer"}


def api_key(info: ApiKeyInfo, *, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": info.id, "name": info.name, "prefix": info.prefix,
                            "created_at": iso(info.createdAt), "last_used_at": iso(info.lastUsedAt),
                            "expires_at": iso(info.expiresAt)}
    if key is not None:
        body["key"] = key  # shown once, at creation
    return body
