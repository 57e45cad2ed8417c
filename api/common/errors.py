"""One error model, two bodies: dialect 1 (`/api/...`) and dialect 2 (`/api/v2/...`).

Unhandled exceptions are turned into a 500 by `api.common.middleware` (outermost, so headers stay on it).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DomainError

_STATUS_CODES = {400: "INVALID_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "RESOURCE_NOT_FOUND",
                 405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
                 422: "VALIDATION_ERROR", 429: "RATE_LIMITED"}
_CONSTRAINTS = {"missing": "required", "extra_forbidden": "unknown_field", "less_than_equal": "max",
                "greater_than_equal": "min", "string_too_long": "maxLength", "string_too_short": "minLength",
                "literal_error": "enum", "enum": "enum"}


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "") or ""


def error_body(path: str, rid: str, code: str, message: str,
               details: list[dict[str, Any]] | dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The error body of the dialect that `path` belongs to."""
    if path.startswith("/api/v2"):
        return error_body_v2(code, message, details, **extra)
    return error_body_v1(rid, code, message, details, **extra)


def error_body_v2(code: str, message: str, details: list[dict[str, Any]] | dict[str, Any] | None = None,
                  **extra: Any) -> dict[str, Any]:
    """Dialect 2: `{"success": false, "error": {code, message, details, ...extra}}`."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"success": False, "error": {**error, **extra}}


def error_body_v1(rid: str, code: str, message: str, details: list[dict[str, Any]] | dict[str, Any] | None = None,
                  **extra: Any) -> dict[str, Any]:
    """Dialect 1: `{"error": {code, message, details}, "request_id"}`; `extra` is not shown, except that a 404
    names the missing resource in `details` as the spec shows it: `{"agent_id": …}`."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    elif "resource" in extra and "id" in extra:
        error["details"] = {f"{extra['resource']}_id": extra["id"]}
    return {"error": error, "request_id": rid}


def error_response(request: Request, status: int, code: str, message: str,
                   details: list[dict[str, Any]] | dict[str, Any] | None = None, **extra: Any) -> JSONResponse:
    body = error_body(request.url.path, request_id(request), code, message, details, **extra)
    return JSONResponse(body, status_code=status)


def field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        response = error_response(request, exc.status, exc.code, exc.message, exc.details, **exc.extra)
        for name, value in (getattr(exc, "headers", None) or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            detail = {"field": field_path(tuple(err.get("loc", ()))),
                      "constraint": _CONSTRAINTS.get(err.get("type", ""), err.get("type", "invalid")),
                      "message": err.get("msg", "invalid")}
            if (err.get("type") != "missing" and "input" in err and _jsonable(err["input"])
                    and not _secret(request.url.path, detail["field"])):
                detail["value"] = err["input"]
            details.append(detail)
        return error_response(request, 400, "VALIDATION_ERROR", "Request validation failed", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code
        response = error_response(request, exc.status_code, code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response


_SECRET_FIELD = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)


def _secret(path: str, field: str) -> bool:
    """Never echo a value sent to an auth endpoint, or one in a field that may hold a secret."""
    return "/auth/" in path or bool(_SECRET_FIELD.search(field))


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None)) and len(str(value)) < 500
