"""Idempotency keys: the storage behind `Idempotency-Key` (the HTTP side is `api/idempotency.py`).

A *slot* is one caller's use of one key on one method and path. Its id is an HMAC (keyed with the server secret) of
caller, method, path and key, so neither the key nor the caller is stored in the clear. The first request claims
the slot (a row with its fingerprint and an owner token); while it is in flight a duplicate is told so; when it
answered 2xx its response is stored, encrypted with AES-GCM under a second HMAC of the same material, so reading
the table — or guessing someone's key without being them — reveals nothing (a new API key's secret, say). A
failed request releases its slot, so it can be retried with the same key.

Keys expire `TTL` after their first use: an expired row is treated as absent (and overwritten), and rows are
swept at most every `SWEEP_EVERY` per process. A claim is renewed while its request runs; one whose request never
finished (a crashed process) is taken over once its `LEASE` has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from core.auth.secret import server_secret
from core.db import session_scope, utcnow
from core.idempotency.tables import IdempotencyRow
from core.settings import Settings

log = logging.getLogger("stellarflow.idempotency")

TTL = timedelta(hours=24)
# A claim holds its key while its request runs; the request's process renews it every RENEW_EVERY, so a claim whose
# process died (SIGKILL, OOM, a lost host) is taken over within LEASE, not held for minutes while clients retry.
LEASE = timedelta(seconds=15)
RENEW_EVERY = timedelta(seconds=5)
SWEEP_EVERY = timedelta(minutes=10)
MAX_STORED_BODY = 1 << 20  # a larger response is not kept (the request is then simply not idempotent)

_sweep_lock = threading.Lock()
_last_sweep: datetime | None = None


@dataclass(frozen=True)
class Slot:
    id: str
    cipher_key: bytes = field(repr=False)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """`claimed`: go ahead (and `complete` or `release` with `owner`); `replay`: answer with `response`;
    `in_flight`: the first request with this key has not finished; `mismatch`: the key was used for another
    request."""

    kind: Literal["claimed", "replay", "in_flight", "mismatch"]
    owner: str | None = None
    response: StoredResponse | None = None


def slot(settings: Settings, caller: str, method: str, path: str, key: str) -> Slot:
    secret = server_secret(settings)
    material = "\0".join((caller, method.upper(), path, key)).encode()
    return Slot(id=hmac.new(secret, b"idempotency-slot\0" + material, hashlib.sha256).hexdigest(),
                cipher_key=hmac.new(secret, b"idempotency-response\0" + material, hashlib.sha256).digest())


def fingerprint(query_string: bytes, body: bytes, content_type: str = "") -> str:
    """What makes two requests "the same": the query string and the body, a JSON body compared by value (key
    order and whitespace do not matter)."""
    canonical = body
    if "json" in content_type.lower() and body.strip():
        try:
            canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: compare the bytes
            canonical = body
    digest = hashlib.sha256()
    digest.update(query_string)
    digest.update(b"\0")
    digest.update(canonical)
    return digest.hexdigest()


def claim(target: Slot, request_hash: str, *, now: datetime | None = None) -> Outcome:
    now = now or utcnow()
    sweep(now)
    owner = secrets.token_hex(16)
    for _ in range(5):
        try:
            with session_scope() as session:
                session.add(IdempotencyRow(id=target.id, request_hash=request_hash, owner=owner,
                                           locked_until=now + LEASE, created_at=now))
            return Outcome("claimed", owner=owner)
        except IntegrityError:
            pass
        with session_scope() as session:
            row = session.get(IdempotencyRow, target.id)
            if row is None:  # released meanwhile: the first request failed
                continue
            response = None
            gone = _aware(row.created_at) <= now - TTL
            if not gone and row.status_code is not None:
                response = _decrypt(target, row.response)
                gone = response is None  # stored under another server secret: as good as expired
            abandoned = row.status_code is None and _aware(row.locked_until) <= now
            if gone or abandoned:
                taken = session.exec(
                    update(IdempotencyRow)
                    .where(IdempotencyRow.id == target.id, IdempotencyRow.owner == row.owner)
                    .values(request_hash=request_hash, owner=owner, locked_until=now + LEASE, created_at=now,
                            status_code=None, response=None)
                ).rowcount
                if taken:
                    return Outcome("claimed", owner=owner)
                continue
            if row.request_hash != request_hash:
                return Outcome("mismatch")
            if response is None:
                return Outcome("in_flight")
            return Outcome("replay", response=response)
    return Outcome("in_flight")  # lost every race: another request with this key keeps winning


def complete(target: Slot, owner: str, response: StoredResponse) -> bool:
    """Store the response of a claimed slot. False when the claim was lost (taken over after its lease)."""
    if len(response.body) > MAX_STORED_BODY:
        log.warning("response of %d bytes is too large to keep for Idempotency-Key replays", len(response.body))
        release(target, owner)
        return False
    blob = _encrypt(target, response)
    with session_scope() as session:
        stored = session.exec(
            update(IdempotencyRow)
            .where(IdempotencyRow.id == target.id, IdempotencyRow.owner == owner,
                   IdempotencyRow.status_code.is_(None))  # type: ignore[union-attr]
            .values(status_code=response.status, response=blob)
        ).rowcount
    return bool(stored)


def renew(target: Slot, owner: str, *, now: datetime | None = None) -> bool:
    """Extend a claim still in flight by LEASE; False when it is no longer ours."""
    now = now or utcnow()
    with session_scope() as session:
        return bool(session.exec(
            update(IdempotencyRow)
            .where(IdempotencyRow.id == target.id, IdempotencyRow.owner == owner,
                   IdempotencyRow.status_code.is_(None))  # type: ignore[union-attr]
            .values(locked_until=now + LEASE)
        ).rowcount)


def release(target: Slot, owner: str) -> None:
    """Forget a claim whose request did not succeed, so the same key may be used to retry it."""
    with session_scope() as session:
        session.exec(delete(IdempotencyRow).where(
            IdempotencyRow.id == target.id, IdempotencyRow.owner == owner,
            IdempotencyRow.status_code.is_(None)))  # type: ignore[union-attr]


def sweep(now: datetime | None = None, *, force: bool = False) -> int:
    """Delete expired rows (at most every SWEEP_EVERY per process unless forced); returns how many."""
    global _last_sweep
    now = now or utcnow()
    with _sweep_lock:
        if not force and _last_sweep is not None and now - _last_sweep < SWEEP_EVERY:
            return 0
        _last_sweep = now
    with session_scope() as session:
        return session.exec(delete(IdempotencyRow).where(IdempotencyRow.created_at < now - TTL)).rowcount or 0


# ---- internals ---------------------------------------------------------------------------------------


def _encrypt(target: Slot, response: StoredResponse) -> str:
    plain = json.dumps({"status": response.status, "headers": response.headers,
                        "body": base64.b64encode(response.body).decode()}).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(target.cipher_key).encrypt(nonce, plain, target.id.encode())
    return base64.b64encode(nonce + sealed).decode()


def _decrypt(target: Slot, blob: str | None) -> StoredResponse | None:
    if not blob:
        return None
    try:
        raw = base64.b64decode(blob)
        plain = json.loads(AESGCM(target.cipher_key).decrypt(raw[:12], raw[12:], target.id.encode()))
        return StoredResponse(status=int(plain["status"]), headers=[(k, v) for k, v in plain["headers"]],
                              body=base64.b64decode(plain["body"]))
    except (InvalidTag, ValueError, KeyError, TypeError):
        log.warning("a stored idempotent response could not be read (server secret changed?); treating it as gone")
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
