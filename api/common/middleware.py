"""Request ids and the spec's security headers on every response (pure ASGI: no per-request task hop)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from ulid import ULID

from api.common.errors import error_body

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"x-xss-protection", b"1; mode=block"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"content-security-policy", b"default-src 'self'"),
]
# The interactive docs page loads its script and styles from a CDN; keep CSP strict everywhere else.
DOCS_CSP = (  # the pages' scripts and styles are our own files (fastapi-offline); their bootstrap script is inline
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    b"worker-src 'self' blob:"
)
log = logging.getLogger("stellarflow.api")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else f"req-{ULID()}"
        scope.setdefault("state", {})["request_id"] = request_id
        is_docs = scope["path"] in ("/docs", "/redoc")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                for name, value in SECURITY_HEADERS:
                    if name == b"content-security-policy" and is_docs:
                        value = DOCS_CSP
                    headers.append((name, value))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # The trace goes to the log; the body carries only the request id to quote.
            log.exception("unhandled error on %s %s [%s]", scope.get("method"), scope["path"], request_id)
            if started:
                raise
            body = json.dumps(error_body(scope["path"], request_id, "INTERNAL_ERROR",
                                         f"Internal error; quote request id {request_id} when reporting it"))
            await send_with_headers({"type": "http.response.start", "status": 500,
                                     "headers": [(b"content-type", b"application/json")]})
            await send_with_headers({"type": "http.response.body", "body": body.encode()})


CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "Accept", "Idempotency-Key", "X-Request-ID"]
# What a browser script may read from a response besides the CORS-safelisted headers.
CORS_EXPOSED_HEADERS = ["X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
                        "X-RateLimit-Resource", "Retry-After", "Location", "Idempotent-Replayed", "WWW-Authenticate"]


def install_cors(app: Any, settings: Any) -> None:
    """Starlette's CORSMiddleware when `cors_origins` is set (none: no CORS headers). Add it after the rate limiter
    and before `RequestContextMiddleware`, so it runs between them: a preflight is answered before it is counted
    or needs a token, and every CORS response — preflights and 429s included — still carries the request id and
    the security headers."""
    if not settings.cors_origins:
        return
    from starlette.middleware.cors import CORSMiddleware

    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=CORS_METHODS,
                       allow_headers=CORS_REQUEST_HEADERS, expose_headers=CORS_EXPOSED_HEADERS,
                       allow_credentials=settings.cors_allow_credentials, max_age=settings.cors_max_age_s)
