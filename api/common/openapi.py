"""The published OpenAPI document, made to say what the API really answers.

FastAPI documents request validation as `422 HTTPValidationError`; we answer `400 VALIDATION_ERROR` in each
dialect's error body. Guarded operations can also answer 401/403 and 429, operations with a path id 404, and
operations that take a body 413 (STELLARFLOW_MAX_REQUEST_BYTES, api/common/bodylimit.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

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
    "413": "The request body is larger than the server accepts (PAYLOAD_TOO_LARGE, details.limit in bytes)",
    "429": "Rate limit exceeded (see Retry-After)",
}


def _error_response(path: str, code: str) -> dict[str, Any]:
    schema = "ErrorV2" if path.startswith("/api/v2") else "ErrorV1"
    return {
        "description": _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def rewrite(schema: dict[str, Any], unlimited: list[str] | None = None) -> dict[str, Any]:
    """`unlimited`: path prefixes the rate limiter does not count (no 429 there)."""
    schema.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
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
            if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in unlimited or []):
                responses.setdefault("429", _error_response(path, "429"))
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)
    return schema


def install(app: FastAPI) -> None:
    generate = app.openapi  # FastAPI's own generator (it caches in app.openapi_schema)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            settings = app.state.settings
            unlimited = settings.rate_limit_exempt_paths if settings.rate_limit_enabled else None
            app.openapi_schema = rewrite(generate(), unlimited)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
