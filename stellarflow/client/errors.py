"""The API's errors as exceptions: one class per kind, each carrying `code`, `message`, `details`, `request_id`.

Both dialects' error bodies are understood: dialect 1 `{"error": {code, message, details}, "request_id"}` and
dialect 2 `{"success": false, "error": {code, message, details}}` (its request id is the `X-Request-ID` header).

Validation errors are `VALIDATION_ERROR` on the wire, with `details` naming each field. The claude-flow spec's SDK
example checks `error.code == 'INVALID_REQUEST'` for the same thing, so `ValidationError` answers to both:
`error.code == "VALIDATION_ERROR"`, `error.is_invalid_request` is true, and `error.codes` holds both names.
"""

from __future__ import annotations

from typing import Any

import httpx

INVALID_REQUEST = "INVALID_REQUEST"  # the claude-flow spec's name for what this API calls VALIDATION_ERROR


class StellarFlowError(Exception):
    """Any error the API answered with (or a transport failure, `status` 0)."""

    def __init__(self, message: str, *, code: str = "ERROR", status: int = 0, details: Any = None,
                 request_id: str | None = None, retry_after: float | None = None,
                 response: httpx.Response | None = None) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details
        self.request_id = request_id
        self.retry_after = retry_after  # seconds, when the API sent Retry-After
        self.response = response

    @property
    def codes(self) -> frozenset[str]:
        """Every name this error answers to (the wire code, plus the spec's alias for validation errors)."""
        return frozenset({self.code})

    @property
    def is_invalid_request(self) -> bool:
        return INVALID_REQUEST in self.codes

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r}, "
                f"request_id={self.request_id!r})")


class ValidationError(StellarFlowError):
    """400/422 `VALIDATION_ERROR`; `details` lists `{field, constraint, message}` per field. Also the spec's
    `INVALID_REQUEST`."""

    @property
    def codes(self) -> frozenset[str]:
        return frozenset({self.code, INVALID_REQUEST})


class Unauthorized(StellarFlowError):
    """401: no, bad, expired or revoked credential."""


class Forbidden(StellarFlowError):
    """403: the credential may not do this (role, ownership, closed registration)."""


class NotFound(StellarFlowError):
    """404 `RESOURCE_NOT_FOUND`."""


class Conflict(StellarFlowError):
    """409: the resource's state forbids it now (or an Idempotency-Key still in flight)."""


class IdempotencyKeyReused(StellarFlowError):
    """422 `IDEMPOTENCY_KEY_REUSED`: the same key was sent with a different request."""


class PreconditionFailed(StellarFlowError):
    """412: `If-Match` named a version that is no longer current."""


class PayloadTooLarge(StellarFlowError):
    """413."""


class RateLimited(StellarFlowError):
    """429 (rate limit or quota), after the client's own retries ran out; `retry_after` in seconds."""


class ServiceUnavailable(StellarFlowError):
    """503 (Temporal or the database unreachable), after the client's own retries ran out."""


class ServerError(StellarFlowError):
    """5xx: a bug on the server; never retried."""


class TransportError(StellarFlowError):
    """The request never got an answer (connection refused, timeout)."""


_BY_STATUS: dict[int, type[StellarFlowError]] = {
    400: ValidationError, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 412: PreconditionFailed,
    413: PayloadTooLarge, 429: RateLimited, 503: ServiceUnavailable,
}
_BY_CODE: dict[str, type[StellarFlowError]] = {
    "VALIDATION_ERROR": ValidationError, INVALID_REQUEST: ValidationError, "UNAUTHORIZED": Unauthorized,
    "FORBIDDEN": Forbidden, "REGISTRATION_CLOSED": Forbidden, "RESOURCE_NOT_FOUND": NotFound, "CONFLICT": Conflict,
    "IDEMPOTENCY_KEY_REUSED": IdempotencyKeyReused, "RATE_LIMITED": RateLimited, "RATE_LIMIT_EXCEEDED": RateLimited,
    "QUOTA_EXCEEDED": RateLimited, "SERVICE_UNAVAILABLE": ServiceUnavailable,
}


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (the API sends delta-seconds), or None when absent or not a number."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def from_response(response: httpx.Response) -> StellarFlowError:
    """The exception for an error response of either dialect (or a non-JSON one, e.g. from a proxy)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "ERROR")
        message = str(error.get("message") or response.reason_phrase)
        details = error.get("details")
    else:
        code, message, details = f"HTTP_{status}", (response.text[:500] or response.reason_phrase), None
    request_id = (body.get("request_id") if isinstance(body, dict) else None) or response.headers.get("x-request-id")
    kind = _BY_CODE.get(code) or _BY_STATUS.get(status) or (ServerError if status >= 500 else StellarFlowError)
    if kind is ValidationError and status == 422 and code == "IDEMPOTENCY_KEY_REUSED":
        kind = IdempotencyKeyReused
    return kind(message, code=code, status=status, details=details, request_id=request_id,
                retry_after=retry_after(response), response=response)
