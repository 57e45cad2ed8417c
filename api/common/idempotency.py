"""`Idempotency-Key` on every POST that creates something, in one place: a pure-ASGI middleware inside the rate
limiter (so retries are counted and replays still carry the request id, security and rate-limit headers).

Which requests take part: a POST whose route is declared with status 201 or 202 — what every creating route in
this API does — so a route added later takes part without a line of its own. A route can opt in or out with
`openapi_extra={"x-idempotent": True | False}`. Other POSTs ignore the header: login, token and refresh (200,
and they hand out fresh credentials: replaying them would be wrong) and logout (204). The OpenAPI schema
documents the header on exactly the operations that take part (api/common/openapi.py).

What a key means: it is scoped to the caller — the authenticated user (whatever token or API key of theirs is
sent), or for an unauthenticated request (register) the client IP — plus method and path. Another caller's use of
the same key is a different key. The first request claims it; its 2xx response (status, headers, body) is stored
encrypted (core/idempotency/store.py) and a retry with the same key and the same request (query and body, JSON
compared by value) gets that response back with `Idempotent-Replayed: true`, without the route running again. The
same key with a different request → 422 `IDEMPOTENCY_KEY_REUSED`; while the first is still in flight → 409
`CONFLICT` (`Retry-After: 1`). A non-2xx response is not kept, so a failed request can be retried with the same
key. Keys expire 24 h after first use.

Secrets: `POST …/auth/keys` (a new API key's secret) and `POST /api/v2/auth/register` take part. Their replays go
only to the same caller (the same user; for register, which has no user yet, the same IP with the same body —
which already holds everything the response shows), and the stored copy is encrypted under a key derived from the
server secret and the raw Idempotency-Key, which is itself never stored.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

import anyio
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.common.errors import error_body
from api.common.ratelimit import bearer_token, client_ip
from core.auth.authenticate import authenticate
from core.errors import Conflict, DomainError, IdempotencyMismatch
from core.idempotency import store as idempotency
from core.settings import Settings

log = logging.getLogger("stellarflow.idempotency")

HEADER = "Idempotency-Key"
CREATING_STATUS = (201, 202)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, 1..255 characters
_NOT_REPLAYED = {b"content-length", b"set-cookie", b"date", b"server", b"idempotent-replayed", b"x-request-id",
                 b"retry-after"}


def is_creating(route: Any) -> bool:
    """Whether requests to `route` take part (see the module docstring)."""
    extra = getattr(route, "openapi_extra", None) or {}
    if isinstance(extra.get("x-idempotent"), bool):
        return extra["x-idempotent"]
    return "POST" in (getattr(route, "methods", None) or ()) and getattr(route, "status_code", None) in CREATING_STATUS


def flat_routes(app: Any) -> Iterable[tuple[str, Any]]:
    """(full path, route) for every route, flat, in the order the router tries them."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before nested routers: app.routes is already flat
        return [(getattr(route, "path", ""), route) for route in app.routes]
    return [(context.path, context.route) for context in iter_route_contexts(app.routes)]


_CREATING: dict[int, list[Any]] = {}


def _creating_routes(app: Any) -> list[Any]:
    """The routes that take part, computed once per app (routes are fixed once the app serves)."""
    found = _CREATING.get(id(app))
    if found is None:
        found = _CREATING[id(app)] = [route for _, route in flat_routes(app) if is_creating(route)]
    return found


def matched_route(app: Any, scope: Scope) -> Any | None:
    """The creating route `scope` is for, or None (a request for any other route does not take part)."""
    for route in _creating_routes(app):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER.lower().encode())
        route = matched_route(scope.get("app"), scope) if raw_key is not None and scope.get("app") else None
        if route is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not _KEY.match(key):
            await _error(scope, send, 400, "VALIDATION_ERROR", "Request validation failed", details=[{
                "field": HEADER, "constraint": "format",
                "message": "Must be 1 to 255 visible ASCII characters (a UUID is a good choice)"}])
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        caller = await self._caller(scope)
        target = idempotency.slot(self.settings, caller, "POST", scope["path"], key)
        request_hash = idempotency.fingerprint(scope.get("query_string", b""), body,
                                               headers.get(b"content-type", b"").decode("latin-1"))
        outcome = await anyio.to_thread.run_sync(idempotency.claim, target, request_hash)
        if outcome.kind == "replay" and outcome.response is not None:
            await _replay(send, outcome.response)
            return
        if outcome.kind == "mismatch":
            await _error(scope, send, IdempotencyMismatch.status, IdempotencyMismatch.code,
                         "Idempotency-Key was already used with a different request", details=[{
                             "field": HEADER, "constraint": "unique",
                             "message": "reuse a key only to retry the identical request; use a new key otherwise"}])
            return
        if outcome.kind != "claimed" or outcome.owner is None:
            await _error(scope, send, Conflict.status, Conflict.code,
                         "A request with this Idempotency-Key is still being processed; retry shortly",
                         headers=((b"retry-after", b"1"),))
            return
        await self._first(scope, _replaying(body, receive), send, target, outcome.owner)

    async def _first(self, scope: Scope, receive: Receive, send: Send, target: idempotency.Slot, owner: str) -> None:
        """Run the request that claimed the key; keep its response if it is a complete 2xx, else free the key."""
        status = 0
        kept_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        finished = False

        async def capture(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                kept_headers.extend((k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
                                    if _replayable(k))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                finished = not message.get("more_body", False)
            await send(message)

        async def renew_while_running() -> None:
            while True:
                await anyio.sleep(idempotency.RENEW_EVERY.total_seconds())
                try:
                    await anyio.to_thread.run_sync(idempotency.renew, target, owner)
                except Exception:  # noqa: BLE001 - the next renewal tries again
                    log.warning("could not renew an Idempotency-Key claim", exc_info=True)

        # The route may derive what it creates from the slot (a run's id: a retry after an answer that never
        # arrived then lands on the same run), never from the raw key, which is the caller's.
        scope.setdefault("state", {})["idempotency_slot"] = target.id
        try:
            async with anyio.create_task_group() as renewals:
                renewals.start_soon(renew_while_running)
                try:
                    await self.app(scope, receive, capture)
                finally:
                    renewals.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._settle(target, owner, status, kept_headers, chunks, finished)

    @staticmethod
    async def _settle(target: idempotency.Slot, owner: str, status: int, headers: list[tuple[str, str]],
                      chunks: list[bytes], finished: bool) -> None:
        try:
            if finished and 200 <= status < 300:
                stored = idempotency.StoredResponse(status=status, headers=headers, body=b"".join(chunks))
                await anyio.to_thread.run_sync(idempotency.complete, target, owner, stored)
            else:
                await anyio.to_thread.run_sync(idempotency.release, target, owner)
        except Exception:  # the response is out already; a retry will find the claim's lease run out
            log.exception("could not settle an Idempotency-Key")

    async def _caller(self, scope: Scope) -> str:
        token = bearer_token(scope)
        resolver = getattr(getattr(scope.get("app"), "state", None), "tier_resolver", None)
        if token and resolver is not None:
            # The rate limiter resolved this token to its user a moment ago (cached a few seconds): the same key
            # without a second credential check. The route still checks the credential in full, and only a 2xx
            # from it is ever stored, so a credential revoked meanwhile stores nothing.
            resolved = await anyio.to_thread.run_sync(resolver, token)
            if resolved is not None and resolved.key.startswith("user:"):
                return resolved.key
        if token:
            try:
                identity = await anyio.to_thread.run_sync(authenticate, self.settings, token)
                return f"user:{identity.user.id}"
            except DomainError:  # a bad credential: the route answers 401 (never stored); a public route: by IP
                pass
            # Anything else (the database failing) propagates: falling back to the IP could file one user's
            # response under an address that others share.
        return f"ip:{client_ip(scope)}"


def _replayable(name: bytes) -> bool:
    name = name.lower()
    return name not in _NOT_REPLAYED and not name.startswith(b"x-ratelimit-")


def _replaying(body: bytes, receive: Receive) -> Receive:
    """Hand the buffered body to the app once, then whatever the client sends next (a disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _replay(send: Send, response: idempotency.StoredResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers += [(b"content-length", str(len(response.body)).encode()), (b"idempotent-replayed", b"true")]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _error(scope: Scope, send: Send, status: int, code: str, message: str, *,
                 details: list[dict[str, Any]] | None = None,
                 headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    rid = scope.get("state", {}).get("request_id", "")
    body = json.dumps(error_body(scope["path"], rid, code, message, details)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def install(app: Any, settings: Settings) -> None:
    """Add the middleware (before the rate limiter is added, so it runs inside it). The OpenAPI document declares
    the header, and the 409 and 422 it may cause, on every operation `is_creating` names (api/common/openapi.py)."""
    app.add_middleware(IdempotencyMiddleware, settings=settings)
