"""API keys: `sf_<random>`, shown once at creation; only an HMAC-SHA256 of the key (keyed with the server
secret) is stored, so a leaked database does not leak usable keys. A key acts with its owner's role."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col, select

from core.auth.identity import Identity, aware
from core.auth.secret import derived_key
from core.auth.tables import ApiKeyRow, UserRow
from core.auth.users import info
from core.db import session_scope, utcnow
from core.errors import NotFound, Unauthorized, ValidationFailed
from core.ids import new_id
from core.settings import Settings

KEY_PREFIX = "sf_"
PREFIX_SHOWN = 11  # "sf_" + 8 characters: enough to tell keys apart in a list, useless to an attacker
LAST_USED_GRANULARITY = timedelta(seconds=60)  # at most one write per key per minute
log = logging.getLogger("stellarflow.auth")


class ApiKeyInfo(BaseModel):
    id: str
    name: str
    prefix: str
    createdAt: datetime
    lastUsedAt: datetime | None
    expiresAt: datetime | None


class NewApiKey(BaseModel):
    """The one moment the key itself exists outside its owner's hands."""

    info: ApiKeyInfo
    key: str

    def __repr__(self) -> str:
        return f"NewApiKey(info={self.info!r})"

    __str__ = __repr__


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def _digest(settings: Settings, key: str) -> str:
    return hmac.new(derived_key(settings, "api-keys"), key.encode(), hashlib.sha256).hexdigest()


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(id=row.id, name=row.name, prefix=row.prefix, createdAt=row.created_at,
                      lastUsedAt=row.last_used_at, expiresAt=row.expires_at)


def create_key(settings: Settings, user_id: str, name: str, *, expires_in_s: int | None = None) -> NewApiKey:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("Request validation failed", details=[
            {"field": "name", "constraint": "length", "message": "1-100 characters"}])
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=expires_in_s) if expires_in_s else None
    row = ApiKeyRow(id=new_id("key"), user_id=user_id, name=name, prefix=key[:PREFIX_SHOWN],
                    secret_hash=_digest(settings, key), expires_at=expires_at)
    with session_scope() as session:
        session.add(row)
    log.info("API key %s created for %s", row.id, user_id)
    return NewApiKey(info=_info(row), key=key)


def list_keys(user_id: str) -> list[ApiKeyInfo]:
    with session_scope() as session:
        rows = session.exec(
            select(ApiKeyRow).where(ApiKeyRow.user_id == user_id, col(ApiKeyRow.revoked_at).is_(None))
            .order_by(col(ApiKeyRow.created_at).desc())
        ).all()
        return [_info(row) for row in rows]


def revoke_key(user_id: str, key_id: str, *, any_owner: bool = False) -> None:
    """Someone else's key, or one already revoked, is simply not found: ids do not leak who owns what. An admin
    (`any_owner`) may revoke anyone's key, e.g. one that leaked."""
    conditions = [col(ApiKeyRow.id) == key_id, col(ApiKeyRow.revoked_at).is_(None)]
    if not any_owner:
        conditions.append(col(ApiKeyRow.user_id) == user_id)
    with session_scope() as session:
        revoked = session.exec(update(ApiKeyRow).where(*conditions).values(revoked_at=utcnow()))
        if revoked.rowcount != 1:
            raise NotFound("api key", key_id)
    log.info("API key %s revoked", key_id)


def check_key(settings: Settings, key: str) -> Identity:
    digest = _digest(settings, key)
    now = utcnow()
    with session_scope() as session:
        row = session.exec(select(ApiKeyRow).where(ApiKeyRow.secret_hash == digest)).first()
        if row is None or row.revoked_at is not None:
            raise Unauthorized("Invalid API key")
        if row.expires_at is not None and aware(row.expires_at) <= now:
            raise Unauthorized("API key expired")
        user = session.get(UserRow, row.user_id)
        if user is None or user.disabled:
            raise Unauthorized("Invalid API key")
        if row.last_used_at is None or now - aware(row.last_used_at) >= LAST_USED_GRANULARITY:
            row.last_used_at = now
            session.add(row)
        return Identity(user=info(user), method="api_key", key_id=row.id)
