"""A cap on request bodies (`STELLARFLOW_MAX_REQUEST_BYTES`, default 1 MiB), as a pure-ASGI middleware.

Two checks, both before anything reads more than the cap:

* A `Content-Length` above the cap is answered 413 at once: no route, no token lookup, no rate-limit storage.
* Every body is counted as it streams in (chunked uploads have no `Content-Length`, and a declared length can be a
  lie): the `receive` handed to the app raises `BodyTooLarge` once more than the cap has arrived, so whoever reads
  the body — a route, the idempotency middleware — stops there, and this middleware answers 413 if no response
  has started.

The 413 body is the dialect's error envelope (code `PAYLOAD_TOO_LARGE`, `details.limit`), the same as every other
error. Where it sits in the middleware stack is in docs/architecture.md ("Shared API conventions").
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.common.errors import error_body

CODE = "PAYLOAD_TOO_LARGE"


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passed the cap. An HTTPException, so a route reading its body turns it
    into the dialect's 413 through the app's handler; raised anywhere else it reaches the middleware."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=message(limit))
        self.limit = limit


def message(limit: int) -> str:
    return f"Request body is larger than {limit} bytes (STELLARFLOW_MAX_REQUEST_BYTES)"


def too_large_body(path: str, request_id: str, limit: int) -> dict[str, Any]:
    return error_body(path, request_id, CODE, message(limit), details={"limit": limit})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, limit)
            return
        received = 0
        started = exceeded = replaced = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
                if exceeded:  # whatever the app made of the exception (a 400 "could not parse"), it is a 413
                    replaced = True
                    kept = [(k, v) for k, v in message.get("headers", []) if k.lower().startswith(b"x-ratelimit-")]
                    await self._refuse(scope, send, limit, kept)
                    return
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, limit: int, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        rid = scope.get("state", {}).get("request_id", "")
        body = json.dumps(too_large_body(scope.get("path", ""), rid, limit)).encode()
        # `connection: close`: the rest of an unread body is not worth reading to keep the connection alive.
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close"), *(extra or [])]})
        await send({"type": "http.response.body", "body": body})


def install(app: Any, max_bytes: int) -> None:
    """Add the middleware: call after the rate limiter is added (so the cap runs outside it) and before CORS and
    `RequestContextMiddleware` (so a 413 still carries the CORS grant, the request id and security headers)."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_bytes)
