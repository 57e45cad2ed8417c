"""Domain errors. Services raise these; each API presenter turns them into its dialect's error body."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None, **extra: Any) -> None:
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
