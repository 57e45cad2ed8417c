"""Domain errors. Services raise these; each API presenter turns them into its dialect's error body."""

from __future__ import annotations

import math
from typing import Any


class DomainError(Exception):
    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str, *, details: list[dict[str, Any]] | dict[str, Any] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.extra = extra


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"
    status = 400


class NotFound(DomainError):
    code = "RESOURCE_NOT_FOUND"
    status = 404

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(f"{resource.capitalize()} not found", resource=resource, id=resource_id)


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409


class IdempotencyMismatch(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422


class Unavailable(DomainError):
    code = "SERVICE_UNAVAILABLE"
    status = 503


class Unauthorized(DomainError):
    """No credential, or one that is bad, expired or revoked. Rendered with `WWW-Authenticate: Bearer`."""

    code = "UNAUTHORIZED"
    status = 401
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403


class QuotaExceeded(DomainError):
    """A per-tier quota is used up (see `core.limits.quotas`): 429 for a rate quota, which frees up with time (with
    `Retry-After` when known), 403 for a capacity quota, which frees up only when something is released."""

    code = "QUOTA_EXCEEDED"
    status = 403

    def __init__(self, message: str, *, quota: str, limit: int, used: int, requested: int, tier: str,
                 status: int = 403, retry_after: float | None = None) -> None:
        super().__init__(message, details={"quota": quota, "limit": limit, "used": used, "requested": requested,
                                           "tier": tier})
        self.quota = quota
        self.status = status
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else {}


class PayloadTooLarge(DomainError):
    """A value over a size limit (a memory entry over `memory_max_entry_bytes`)."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413


class PreconditionFailed(DomainError):
    """An `If-Match` precondition that no longer holds (optimistic concurrency: someone wrote in between)."""

    code = "PRECONDITION_FAILED"
    status = 412


class UnsupportedMediaType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class SignatureRejected(DomainError):
    """A webhook whose HMAC signature is missing or wrong: the signature is its credential (no bearer token)."""

    code = "INVALID_SIGNATURE"
    status = 401
