"""Users, tokens, the caller and API keys (`/api/v2/auth`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.common.deps import Principal
from api.dialect2.jsonapi import BASE
from core.auth.api_keys import ApiKeyInfo
from core.auth.sessions import TokenPair
from core.auth.users import UserInfo


def user(info: UserInfo) -> dict[str, Any]:
    return {"id": info.id, "username": info.username, "email": info.email, "fullName": info.fullName,
            "role": info.role, "createdAt": iso(info.createdAt)}


def token_pair(pair: TokenPair, *, with_user: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"accessToken": pair.access_token, "refreshToken": pair.refresh_token,
                            "tokenType": "Bearer", "expiresIn": pair.expires_in}
    if with_user:
        body["user"] = {"id": pair.user.id, "username": pair.user.username, "role": pair.user.role,
                        "permissions": pair.user.permissions}
    return body


def me(principal: Principal) -> dict[str, Any]:
    return {"id": principal.id, "username": principal.username, "role": principal.role,
            "permissions": principal.permissions, "tier": principal.tier, "authMethod": principal.method}


def api_key(info: ApiKeyInfo, *, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": info.id, "name": info.name, "prefix": info.prefix,
                            "createdAt": iso(info.createdAt), "lastUsedAt": iso(info.lastUsedAt),
                            "expiresAt": iso(info.expiresAt), "links": {"self": f"{BASE}/auth/keys/{info.id}"}}
    if key is not None:
        body["key"] = key  # shown once, at creation
    return body
