"""The published OpenAPI document, made to say what the API really answers.

FastAPI documents request validation as `422 HTTPValidationError`; we answer `400 VALIDATION_ERROR` in each
dialect's error body. Guarded operations can also answer 401/403 and 429, operations with a path id 404, and
operations that take a body 413 (STELLARFLOW_MAX_REQUEST_BYTES, api/common/bodylimit.py); `If-Match` can fail with
412, operations that need Temporal answer 503 while it is down, and every error status carries the dialect's body.

Headers, as the middleware and routes send them: `X-RateLimit-*` on the answers of counted operations and
`Retry-After` on their 429 (api/common/ratelimit.py); `Idempotency-Key` as a request header on the POSTs that take
part, with its 409 (in flight, `Retry-After`), 422 (reused) and `Idempotent-Replayed` (api/common/idempotency.py);
`Location` and `ETag` where the route sends them. `limit`/`page[size]` get their `maximum`: more is a 400.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.common.deps import get_client, lazy_client
from api.common.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.common.idempotency import flat_routes, is_creating
from core.listing import MAX_PAGE_SIZE

# `responses=CONFLICT` on a route whose resource's state can refuse the request.
CONFLICT = {409: {"description": "The resource's state does not allow this (CONFLICT)"}}


def returns(model: Any, status: int = 200, description: str = "Successful response",
            **more: dict[str, Any]) -> dict[str, Any]:
    """Route keyword arguments that document `model` as the success body without validating the body against it
    at run time (`response_model=None`): routes build their bodies with the presenters, and
    tests/test_schema_fuzz.py checks every answer against the document instead, at no cost per request.

    `more` adds further documented responses (`{409: {...}}`), e.g. `**returns(Run, 202, responses=CONFLICT)`.
    """
    responses: dict[int | str, dict[str, Any]] = {status: {"model": model, "description": description}}
    for extra in more.values():
        responses.update(extra)
    return {"response_model": None, "status_code": status, "responses": responses}

_DETAIL = {
    "type": "object",
    "properties": {
        "field": {"type": "string"},
        "constraint": {"type": "string"},
        "message": {"type": "string"},
        "value": {},
    },
}
_ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "examples": ["VALIDATION_ERROR"]},
        "message": {"type": "string"},
        "details": {"anyOf": [{"type": "array", "items": _DETAIL}, {"type": "object"}]},
    },
}
SCHEMAS = {
    "ErrorV2": {
        "type": "object",
        "required": ["success", "error"],
        "properties": {"success": {"const": False}, "error": _ERROR},
    },
    "ErrorV1": {
        "type": "object",
        "required": ["error", "request_id"],
        "properties": {"error": _ERROR, "request_id": {"type": "string"}},
    },
}
_DESCRIPTIONS = {
    "400": "Request validation failed (VALIDATION_ERROR, details name the field)",
    "401": "Missing, invalid, expired or revoked credentials (UNAUTHORIZED)",
    "403": "The credentials lack the permission (FORBIDDEN)",
    "404": "No such resource, or not visible to the caller (RESOURCE_NOT_FOUND)",
    "409": "The resource's state does not allow this (CONFLICT)",
    "412": "`If-Match` names a version that is no longer the latest (PRECONDITION_FAILED)",
    "413": "The request body is larger than the server accepts (PAYLOAD_TOO_LARGE, details.limit in bytes)",
    "422": "The Idempotency-Key was already used with a different request (IDEMPOTENCY_KEY_REUSED)",
    "429": "Rate limit exceeded (see Retry-After)",
    "503": "Temporal is unavailable (SERVICE_UNAVAILABLE); retry later",
}
# Response headers, documented once under components/headers and referred to where they are sent.
HEADERS: dict[str, dict[str, Any]] = {
    "X-RateLimit-Limit": {"description": "Requests allowed in the binding window (`unlimited` for an unlimited "
                                         "tier)", "schema": {"type": "string", "pattern": "^([0-9]+|unlimited)$"}},
    "X-RateLimit-Remaining": {"description": "Requests left in that window (`unlimited` for an unlimited tier)",
                              "schema": {"type": "string", "pattern": "^([0-9]+|unlimited)$"}},
    "X-RateLimit-Reset": {"description": "When the window frees up again (epoch seconds)",
                          "schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Resource": {"description": "The budget counted: `core`, or `auth` on the auth endpoints",
                             "schema": {"type": "string", "enum": ["core", "auth"]}},
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}},
    "Location": {"description": "Where the created resource (or the operation's status) is read",
                 "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` on the stored first answer to a retried Idempotency-Key",
                            "schema": {"type": "string", "enum": ["true"]}},
    "ETag": {"description": 'The entry\'s version, quoted (`"3"`): send it back in `If-Match`',
             "schema": {"type": "string"}},
}
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Resource")
_PAGE_SIZES = ("limit", "page[size]")
_CONVERTER = re.compile(r"{(\w+):[^}]+}")  # `{key:path}` → `{key}`


@dataclass(frozen=True)
class RouteFacts:
    """What the document cannot tell from FastAPI's own output about one operation, read off its route."""

    idempotent: bool = False  # takes part in Idempotency-Key (api/common/idempotency.py)
    temporal: bool = False  # depends on the Temporal client, so Temporal being down is a 503
    location: bool = False  # its 201/202 answer carries `Location`
    etag: bool = False  # its 2xx answer carries `ETag`


def _depends_on(dependant: Any, calls: tuple[Any, ...]) -> bool:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current is None:
            continue
        if getattr(current, "call", None) in calls:
            return True
        stack.extend(getattr(current, "dependencies", []))
    return False


def route_facts(app: FastAPI) -> dict[tuple[str, str], RouteFacts]:
    """(path, method) → facts. `Location` and `ETag` are read off the endpoint's source (the routes build their
    headers inline: `headers={"Location": …}`, `etag(entry)`), so a route that starts sending one is documented
    without a line of its own; tests/test_openapi.py pins the ones we know."""
    facts: dict[tuple[str, str], RouteFacts] = {}
    for path, route in flat_routes(app):
        if not isinstance(route, APIRoute):
            continue
        try:
            source = inspect.getsource(route.endpoint)
        except (OSError, TypeError):
            source = ""
        fact = RouteFacts(idempotent=is_creating(route),
                          temporal=_depends_on(route.dependant, (get_client, lazy_client)),
                          location='"Location"' in source, etag="etag(" in source)
        for method in route.methods or ():
            facts[(_CONVERTER.sub(r"{\1}", path), method.lower())] = fact  # as the document spells it
    return facts


def _error_response(path: str, code: str, description: str | None = None) -> dict[str, Any]:
    schema = "ErrorV2" if path.startswith("/api/v2") else "ErrorV1"
    return {
        "description": description or _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _headers(response: dict[str, Any], *names: str) -> None:
    headers = response.setdefault("headers", {})
    for name in names:
        headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})


def _idempotency(path: str, operation: dict[str, Any]) -> None:
    """The optional header, and what it can answer: 409 while the first request is in flight, 422 on reuse."""
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name", "").lower() == IDEMPOTENCY_HEADER.lower() and p.get("in") == "header"
               for p in parameters):
        parameters.append({
            "name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
            "description": "Makes a retry safe: the same key with the same request within 24 h returns the first "
                           "response (with `Idempotent-Replayed: true`); with a different request → 422.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
        })
    responses = operation["responses"]
    in_flight = "a request with the same Idempotency-Key is still in flight (CONFLICT, see Retry-After)"
    conflict = responses.get("409")
    if conflict is None:
        conflict = responses["409"] = _error_response(path, "409", in_flight[0].upper() + in_flight[1:])
    elif "Idempotency-Key" not in conflict.get("description", ""):
        conflict["description"] = f"{conflict.get('description', _DESCRIPTIONS['409'])}; or {in_flight}"
    _headers(conflict, "Retry-After")
    responses.setdefault("422", _error_response(path, "422"))


def _page_size(parameter: dict[str, Any]) -> None:
    """`limit`/`page[size]` above MAX_PAGE_SIZE is a 400 (core/listing.py `PageRequest`), so it is a `maximum`."""
    schema = parameter.get("schema", {})
    if parameter.get("in") == "query" and parameter.get("name") in _PAGE_SIZES and "maximum" not in schema \
            and parameter.get("description") == f"at most {MAX_PAGE_SIZE}":
        schema["maximum"] = MAX_PAGE_SIZE
        parameter["description"] = schema["description"] = f"at most {MAX_PAGE_SIZE} (more is a 400)"


def rewrite(schema: dict[str, Any], unlimited: list[str] | None = None,
            facts: dict[tuple[str, str], RouteFacts] | None = None) -> dict[str, Any]:
    """`unlimited`: path prefixes the rate limiter does not count (no 429, no rate-limit headers there).
    `facts`: per operation, what only its route knows (`route_facts`)."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("headers", {}).update(HEADERS)
    for path, operations in schema.get("paths", {}).items():
        limited = not any(path == p or path.startswith(p.rstrip("/") + "/") for p in unlimited or [])
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            fact = (facts or {}).get((path, method), RouteFacts())
            responses = operation["responses"]
            had_validation = responses.pop("422", None) is not None
            if had_validation or operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault("400", _error_response(path, "400"))
            if operation.get("security"):
                responses.setdefault("401", _error_response(path, "401"))
                responses.setdefault("403", _error_response(path, "403"))
            if "{" in path:
                responses.setdefault("404", _error_response(path, "404"))
            if operation.get("requestBody"):
                responses.setdefault("413", _error_response(path, "413"))
            if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match"
                   for p in operation.get("parameters", [])):
                responses.setdefault("412", _error_response(path, "412"))
            if fact.temporal:
                responses.setdefault("503", _error_response(path, "503"))
            if fact.idempotent:
                _idempotency(path, operation)
            if limited:
                _headers(responses.setdefault("429", _error_response(path, "429")), "Retry-After",
                         *RATE_LIMIT_HEADERS)
            for parameter in operation.get("parameters", []):
                _page_size(parameter)
            for code, response in responses.items():
                if code.startswith(("4", "5")) and "content" not in response:  # e.g. `CONFLICT` above
                    response.update(_error_response(path, code, response.get("description")))
                if code.startswith("2"):
                    if limited:
                        _headers(response, *RATE_LIMIT_HEADERS)
                    if fact.etag:
                        _headers(response, "ETag")
                    if fact.idempotent:
                        _headers(response, "Idempotent-Replayed")
                    if fact.location and code in ("201", "202"):
                        _headers(response, "Location")
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)
    return schema


def install(app: FastAPI) -> None:
    generate = app.openapi  # FastAPI's own generator (it caches in app.openapi_schema)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            settings = app.state.settings
            unlimited = settings.rate_limit_exempt_paths if settings.rate_limit_enabled else None
            app.openapi_schema = rewrite(generate(), unlimited, route_facts(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
