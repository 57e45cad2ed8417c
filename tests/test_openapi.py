"""The published OpenAPI document: a valid OpenAPI 3.1 document that says what the API really answers — typed
success bodies, the headers we send (rate limits, Retry-After, Location, ETag), the Idempotency-Key parameter and
every error status with the dialect's error body. tests/test_schema_fuzz.py checks real answers against it; this
module checks the document itself, so a route that loses its documentation fails here by name."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from api.main import create_app
from core.errors import ValidationFailed
from core.listing import MAX_PAGE_SIZE, PageRequest
from core.settings import get_settings

pytestmark = pytest.mark.database("sqlite", reason="the document does not depend on the database")

# OAuth 2.0 itself: HTML pages and RFC 6749 error bodies, documented by api/common/oauth.py.
OAUTH_PROTOCOL = ("/api/auth/oauth/authorize", "/api/auth/oauth/token")
RATE_LIMIT = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Resource"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(get_settings()).openapi()


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][path][method.lower()]


def _headers(document: dict[str, Any], method: str, path: str, status: str) -> set[str]:
    return set(_operation(document, method, path)["responses"][status].get("headers", {}))


def untyped_successes(document: dict[str, Any]) -> list[str]:
    """Operations whose 2xx body is undocumented or a bare object (the logic of the lead's oa_gap.py)."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation.get("responses", {}).items():
                content = response.get("content")
                if not code.startswith("2") or code == "204" or not content:
                    continue
                schema = next(iter(content.values())).get("schema", {})
                if not schema or (schema.get("type") == "object" and "properties" not in schema
                                  and "$ref" not in schema):
                    found.append(f"{method.upper()} {path} {code}")
    return found


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_every_dialect_1_success_body_is_typed(document: dict[str, Any]) -> None:
    # Dialect 2 (/api/v2) joins this list once its routes are documented too.
    assert [op for op in untyped_successes(document) if " /api/v2" not in op] == []


def test_counted_operations_document_the_rate_limit_headers(document: dict[str, Any]) -> None:
    for method, path, status in (("GET", "/api/agents", "200"), ("POST", "/api/tasks", "201"),
                                 ("GET", "/api/v2/workflows", "200"), ("POST", "/api/auth/token", "200")):
        assert RATE_LIMIT <= _headers(document, method, path, status), (method, path)
        assert RATE_LIMIT | {"Retry-After"} <= _headers(document, method, path, "429"), (method, path)
    # Not counted: no 429, no rate-limit headers.
    health = _operation(document, "GET", "/api/health")["responses"]
    assert "429" not in health and not RATE_LIMIT & set(health["200"].get("headers", {}))
    headers = document["components"]["headers"]
    assert headers["X-RateLimit-Remaining"]["schema"]["pattern"] == "^([0-9]+|unlimited)$"


def test_location_and_etag_where_the_routes_send_them(document: dict[str, Any]) -> None:
    for method, path, status in (("POST", "/api/agents", "201"), ("POST", "/api/tasks", "201"),
                                 ("POST", "/api/swarms", "201"), ("POST", "/api/auth/keys", "201"),
                                 ("POST", "/api/system/diagnostics", "202"), ("POST", "/api/auth/oauth/clients", "201"),
                                 ("POST", "/api/v2/workflows/{workflow_id}/runs", "202")):
        assert "Location" in _headers(document, method, path, status), (method, path)
    assert "Location" not in _headers(document, "DELETE", "/api/tasks/{task_id}", "202")  # cancellation: no URL
    for method, path, status in (("POST", "/api/memory", "201"), ("GET", "/api/memory/{key}", "200"),
                                 ("PUT", "/api/memory/{key}", "200"), ("POST", "/api/v2/memory", "201")):
        assert "ETag" in _headers(document, method, path, status), (method, path)
    assert "ETag" not in _headers(document, "DELETE", "/api/memory/{key}", "200")


def test_idempotency_key_on_creating_posts_with_what_it_can_answer(document: dict[str, Any]) -> None:
    for path in ("/api/agents", "/api/tasks", "/api/swarms", "/api/system/diagnostics", "/api/v2/workflows"):
        operation = _operation(document, "POST", path)
        [parameter] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert parameter["in"] == "header" and parameter["required"] is False
        responses = operation["responses"]
        assert "Retry-After" in responses["409"]["headers"] and "Idempotency-Key" in responses["409"]["description"]
        assert "IDEMPOTENCY_KEY_REUSED" in responses["422"]["description"]
    for path in ("/api/auth/token", "/api/auth/refresh", "/mcp/v1/tools/call"):
        operation = _operation(document, "POST", path)
        assert not any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])), path
        assert "422" not in operation["responses"], path


def test_412_where_if_match_is_honoured_and_503_where_temporal_is_needed(document: dict[str, Any]) -> None:
    for method in ("POST", "PUT", "DELETE"):
        path = "/api/memory" if method == "POST" else "/api/memory/{key}"
        assert "412" in _operation(document, method, path)["responses"], (method, path)
    assert "412" not in _operation(document, "GET", "/api/agents")["responses"]
    for method, path in (("POST", "/api/agents"), ("GET", "/api/tasks/{task_id}"), ("POST", "/api/swarms"),
                         ("POST", "/mcp/v1/tools/call")):
        assert "503" in _operation(document, method, path)["responses"], (method, path)
    for method, path in (("GET", "/api/agents"), ("GET", "/api/memory/stats"), ("POST", "/api/auth/token")):
        assert "503" not in _operation(document, method, path)["responses"], (method, path)
    unhealthy = _operation(document, "GET", "/api/health")["responses"]["503"]
    assert unhealthy["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HealthV1"}


def test_every_dialect_1_error_answer_has_the_dialect_1_body(document: dict[str, Any]) -> None:
    missing = []
    for path, item in document["paths"].items():
        if path.startswith("/api/v2") or path in OAUTH_PROTOCOL:
            continue
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")) and (method, path, code) != ("get", "/api/health", "503"):
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if schema != {"$ref": "#/components/schemas/ErrorV1"}:
                        missing.append(f"{method.upper()} {path} {code}")
    assert missing == []


def test_the_page_size_bound_is_a_maximum_because_more_is_refused(document: dict[str, Any]) -> None:
    for path, name in (("/api/agents", "limit"), ("/api/workflows", "limit"), ("/api/v2/workflows", "page[size]")):
        [parameter] = [p for p in _operation(document, "GET", path)["parameters"] if p["name"] == name]
        assert parameter["schema"]["maximum"] == MAX_PAGE_SIZE, path
    with pytest.raises(ValidationFailed):  # what makes the `maximum` true: the code answers 400, never clamps
        PageRequest(size=MAX_PAGE_SIZE + 1, dialect=1)
