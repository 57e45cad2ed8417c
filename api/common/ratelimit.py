"""Rate limiting as a pure-ASGI middleware, inside `RequestContextMiddleware` (so a 429 still carries the request
id and the security headers).

Who is counted, and against which budget:

* A valid bearer token: the caller is the *user* behind it, so all of a user's tokens and API keys share one
  budget. ``app.state.tier_resolver(token)`` (the auth layer's; sync or async) answers a ``Caller`` (tier, and the
  key the budget is kept under: ``user:<id>``). A resolver that answers a bare tier name counts the caller under a
  hash of the token instead (the token itself is never stored or logged).
* No ``Authorization``, or a token the resolver does not vouch for (invalid, expired, revoked, no resolver
  installed, resolver failing): the caller is the client IP, tier ``free``. Counting a bad token under its own
  hash would hand a fresh budget to every made-up token, so junk tokens would lift the limit altogether. (Behind
  a reverse proxy run uvicorn with ``--proxy-headers --forwarded-allow-ips=…`` so the IP is the real client's.)
* Auth endpoints (``/api/auth/…``, ``/api/v2/auth/…``) use the stricter ``auth`` budget per client IP, whatever
  token is sent, so attaching some token cannot dodge the brute-force limit. The one exception is a valid token
  of an unlimited tier (Enterprise), which is never limited anywhere.
* Health and docs paths (``rate_limit_exempt_paths``) and WebSocket handshakes are not counted.

Every counted response carries ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (epoch seconds) and
``-Resource`` (``core`` or ``auth``) from the binding window; an unlimited caller gets ``unlimited`` as limit and
remaining. Over budget: 429 with ``Retry-After`` and the dialect's body.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.common.errors import error_body
from core.limits.ratelimit import DEFAULT_TIER, Caller, Decision, RateLimiter, RateTier, default_tiers
from core.settings import Settings

log = logging.getLogger("stellarflow.ratelimit")

CORE = "core"
AUTH = "auth"
AUTH_PREFIXES = ("/api/auth", "/api/v2/auth")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def bearer_token(scope: Scope) -> str | None:
    """The credential in ``Authorization`` (the part after ``Bearer``), or the whole header for another scheme."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            raw = value.decode("latin-1").strip()
            scheme, _, rest = raw.partition(" ")
            return rest.strip() if scheme.lower() == "bearer" and rest.strip() else raw
    return None


def token_identity(token: str) -> str:
    return "tok:" + hashlib.sha256(token.encode()).hexdigest()[:32]


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, limiter: RateLimiter) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not self.settings.rate_limit_enabled or self._exempt(path):
            await self.app(scope, receive, send)
            return
        resource, budget, identity = await self._classify(scope, path)
        decision = await self.limiter.hit(resource, budget, identity)
        if decision is None:  # storage down: fail open (logged by the limiter)
            await self.app(scope, receive, send)
            return
        headers = rate_limit_headers(decision)
        if not decision.allowed:
            await self._refuse(scope, send, decision, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"x-ratelimit-")]
                message["headers"] = kept + headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _exempt(self, path: str) -> bool:
        return any(_under(path, prefix) for prefix in self.settings.rate_limit_exempt_paths)

    async def _classify(self, scope: Scope, path: str) -> tuple[str, RateTier, str]:
        token = bearer_token(scope)
        caller = await self._caller(scope, token) if token is not None else None
        tier_name = caller.tier if caller is not None else None
        tier = self._tier_budget(tier_name)
        if caller is not None and tier.unlimited:
            return CORE, tier, caller.key
        if any(_under(path, prefix) for prefix in AUTH_PREFIXES):
            return AUTH, self.settings.rate_limit_auth, "ip:" + client_ip(scope)
        if caller is not None:
            return CORE, tier, caller.key
        return CORE, tier, "ip:" + client_ip(scope)

    def _tier_budget(self, name: str | None) -> RateTier:
        tiers = self.settings.rate_limit_tiers
        if name is not None and name in tiers:
            return tiers[name]
        if name is not None:
            log.warning("unknown rate-limit tier %r; counting the caller as %r", name, DEFAULT_TIER)
        return tiers.get(DEFAULT_TIER) or default_tiers()[DEFAULT_TIER]

    @staticmethod
    async def _caller(scope: Scope, token: str) -> Caller | None:
        app = scope.get("app")
        resolver = getattr(getattr(app, "state", None), "tier_resolver", None)
        if resolver is None:
            return None
        try:
            # A thread, because a resolver may look the token up in the database; an async one hands back a
            # coroutine, awaited here on the loop.
            tier = await anyio.to_thread.run_sync(resolver, token)
            if inspect.isawaitable(tier):
                tier = await tier
        except Exception as err:  # never let the resolver turn a request into a 500; never log the token
            log.warning("tier resolver failed (%s); counting the caller as %r", type(err).__name__, DEFAULT_TIER)
            return None
        if isinstance(tier, Caller):
            return tier
        return Caller(tier=tier, key=token_identity(token)) if isinstance(tier, str) else None

    @staticmethod
    async def _refuse(scope: Scope, send: Send, decision: Decision, headers: list[tuple[bytes, bytes]]) -> None:
        path = scope.get("path", "")
        rid = scope.get("state", {}).get("request_id", "")
        body = json.dumps(rate_limit_body(path, rid, decision)).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(decision.retry_after).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})


def rate_limit_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    limit = "unlimited" if decision.limit is None else str(decision.limit)
    remaining = "unlimited" if decision.remaining is None else str(decision.remaining)
    return [(b"x-ratelimit-limit", limit.encode()),
            (b"x-ratelimit-remaining", remaining.encode()),
            (b"x-ratelimit-reset", str(math.ceil(decision.reset)).encode()),
            (b"x-ratelimit-resource", decision.resource.encode())]


def rate_limit_body(path: str, rid: str, decision: Decision) -> dict[str, Any]:
    if path.startswith("/api/v2"):
        return error_body(path, rid, "RATE_LIMIT_EXCEEDED", "API rate limit exceeded",
                          retryAfter=decision.retry_after, limit=decision.limit, window=decision.window)
    message = (f"Rate limit exceeded: {decision.limit} requests per {decision.window} ({decision.resource}); "
               f"retry in {decision.retry_after} s")
    return error_body(path, rid, "RATE_LIMITED", message,
                      details={"limit": decision.limit, "window": decision.window,
                               "retry_after": decision.retry_after})


def install(app: Any, settings: Settings) -> RateLimiter:
    """Add the middleware (call before `RequestContextMiddleware` is added, so it runs inside it)."""
    limiter = RateLimiter(settings.redis_url, key_prefix=settings.rate_limit_key_prefix,
                          timeout_s=settings.rate_limit_storage_timeout_s)
    app.state.rate_limiter = limiter
    app.add_middleware(RateLimitMiddleware, settings=settings, limiter=limiter)
    return limiter
