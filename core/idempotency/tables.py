"""The `idempotency_requests` table (core/idempotency/store.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.db import utcnow


class IdempotencyRow(SQLModel, table=True):
    """One use of an `Idempotency-Key` (core/idempotency/store.py): whose, on which method and path (an HMAC of all of
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
