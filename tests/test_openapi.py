"""The published OpenAPI document: a valid OpenAPI 3.1 document that says what the API really answers — typed
success bodies, the headers we send (rate limits, Retry-After, Location, ETag), the Idempotency-Key parameter and
every error status with the dialect's error body. tests/test_schema_fuzz.py checks real answers against it; this
module checks the document itself, so a route that loses its documentation fails here by name."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from api.main import create_app
from core.errors import ValidationFailed
from core.listing import MAX_PAGE_SIZE, PageRequest
from core.settings import get_settings
from tests.support import PASSWORD, new_user, poll

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


def test_every_success_body_is_typed(document: dict[str, Any]) -> None:
    """Both dialects: no 2xx answer is documented as a bare object (a generator or an SDK could build nothing)."""
    assert untyped_successes(document) == []


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
        success = next(code for code in responses if code.startswith("2"))
        assert "Idempotent-Replayed" in responses[success]["headers"], path
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


# -- Real answers against the document --------------------------------------------------------------------------

class Conformance:
    """Checks an answer against what the document says of its operation: the status is documented, the body
    validates against the schema documented for it, and `Location`/`ETag` are there where documented."""

    def __init__(self, document: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator

        self.document = document
        self.validator = Draft202012Validator
        self.checked: set[str] = set()

    def __call__(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        operation = _operation(self.document, method, path)
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {path} answered an undocumented {status}"
        documented = operation["responses"][status]
        schema = documented["content"]["application/json"]["schema"]
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in
                  self.validator({**schema, "components": self.document["components"]}).iter_errors(response.json())]
        assert errors == [], f"{method} {path} -> {status}: {errors}"
        for header in ("Location", "ETag"):
            if header in documented.get("headers", {}):
                assert header in response.headers, f"{method} {path} -> {status} lacks {header}"
        self.checked.add(f"{method} {path}")
        return response.json()


async def test_real_dialect_1_answers_match_the_document(app: FastAPI, api: httpx.AsyncClient) -> None:
    """Bodies the fuzz rarely reaches (a finished task's detail, a swarm's status, memory entries, MCP results):
    one of each, made for real, checked against the document."""
    check = Conformance(app.openapi())
    agent = check(await api.post("/api/agents", json={"type": "tester", "config": {"executor": "shell"}}),
                  "POST", "/api/agents")["id"]
    await poll(api, f"/api/agents/{agent}", lambda body: body["status"] == "idle")
    check(await api.get(f"/api/agents/{agent}"), "GET", "/api/agents/{agent_id}")
    check(await api.get("/api/agents", params={"limit": 5}), "GET", "/api/agents")
    check(await api.get(f"/api/agents/{agent}/health"), "GET", "/api/agents/{agent_id}/health")
    check(await api.put(f"/api/agents/{agent}", json={"metadata": {"team": "docs"}}), "PUT", "/api/agents/{agent_id}")

    task = check(await api.post("/api/tasks", json={"description": "say hi",
                                                    "requirements": {"command": "echo hi"}}), "POST", "/api/tasks")
    check(await api.post(f"/api/tasks/{task['id']}/assign", json={"agent_id": agent}),
          "POST", "/api/tasks/{task_id}/assign")
    await poll(api, f"/api/tasks/{task['id']}", lambda body: body["status"] == "completed")
    check(await api.get(f"/api/tasks/{task['id']}"), "GET", "/api/tasks/{task_id}")
    check(await api.get("/api/tasks", params={"limit": 5}), "GET", "/api/tasks")
    check(await api.put(f"/api/tasks/{(await api.post('/api/tasks', json={})).json()['id']}",
                        json={"priority": "high"}), "PUT", "/api/tasks/{task_id}")
    pending = (await api.post("/api/tasks", json={"description": "never assigned"})).json()["id"]
    check(await api.delete(f"/api/tasks/{pending}"), "DELETE", "/api/tasks/{task_id}")

    swarm = check(await api.post("/api/swarms", json={"name": "documented", "agent_config": {"executor": "shell"}}),
                  "POST", "/api/swarms")["id"]
    check(await api.get(f"/api/swarms/{swarm}/status"), "GET", "/api/swarms/{swarm_id}/status")
    check(await api.get("/api/swarms", params={"limit": 5}), "GET", "/api/swarms")
    check(await api.post(f"/api/swarms/{swarm}/control", json={"action": "pause"}),
          "POST", "/api/swarms/{swarm_id}/control")
    check(await api.post(f"/api/swarms/{swarm}/broadcast", json={"message": {"content": "hello"}}),
          "POST", "/api/swarms/{swarm_id}/broadcast")

    key = f"openapi/{swarm}"
    check(await api.post("/api/memory", json={"key": key, "value": {"a": 1}, "tags": ["doc"]}), "POST", "/api/memory")
    check(await api.get(f"/api/memory/{key}"), "GET", "/api/memory/{key}")
    check(await api.put(f"/api/memory/{key}", json={"value": {"b": 2}, "merge": True}), "PUT", "/api/memory/{key}")
    check(await api.get("/api/memory/query", params={"pattern": "openapi"}), "GET", "/api/memory/query")
    check(await api.get("/api/memory/stats"), "GET", "/api/memory/stats")
    check(await api.delete(f"/api/memory/{key}"), "DELETE", "/api/memory/{key}")

    check(await api.post("/api/auth/keys", json={"name": "documented"}), "POST", "/api/auth/keys")
    check(await api.get("/api/auth/keys"), "GET", "/api/auth/keys")
    client = check(await api.post("/api/auth/oauth/clients", json={
        "name": "documented", "redirect_uris": ["https://example.com/cb"]}), "POST", "/api/auth/oauth/clients")
    check(await api.get(f"/api/auth/oauth/clients/{client['client_id']}"), "GET", "/api/auth/oauth/clients/{client_id}")
    check(await api.get("/api/auth/oauth/clients"), "GET", "/api/auth/oauth/clients")

    check(await api.get("/api/health"), "GET", "/api/health")
    check(await api.get("/api/system/status"), "GET", "/api/system/status")
    check(await api.get("/api/system/config"), "GET", "/api/system/config")
    check(await api.get("/api/system/metrics"), "GET", "/api/system/metrics")
    report = check(await api.post("/api/system/diagnostics", json={"include": ["versions"]}),
                   "POST", "/api/system/diagnostics")["report_id"]
    await poll(api, f"/api/system/diagnostics/{report}", lambda body: body["status"] != "generating")
    check(await api.get(f"/api/system/diagnostics/{report}"), "GET", "/api/system/diagnostics/{report_id}")
    check(await api.get(f"/api/system/diagnostics/{report}/download"),
          "GET", "/api/system/diagnostics/{report_id}/download")
    check(await api.get("/api/workflows"), "GET", "/api/workflows")
    check(await api.get("/api/runs"), "GET", "/api/runs")

    check(await api.post("/mcp/v1/initialize", json={}), "POST", "/mcp/v1/initialize")
    check(await api.post("/mcp/v1/tools/list"), "POST", "/mcp/v1/tools/list")
    check(await api.post("/mcp/v1/tools/call", json={"name": "system_status"}), "POST", "/mcp/v1/tools/call")
    check(await api.post("/mcp/v1/resources/list"), "POST", "/mcp/v1/resources/list")
    check(await api.post("/mcp/v1/resources/read", json={"uri": f"stellarflow://swarms/{swarm}"}),
          "POST", "/mcp/v1/resources/read")
    check(await api.post("/mcp/v1/prompts/list"), "POST", "/mcp/v1/prompts/list")
    check(await api.post("/mcp/v1/prompts/get", json={"name": "plan_swarm", "arguments": {"objective": "docs"}}),
          "POST", "/mcp/v1/prompts/get")
    check(await api.delete(f"/api/agents/{agent}"), "DELETE", "/api/agents/{agent_id}")
    user = new_user()
    signed_in = check(await api.post("/api/auth/token", json={"username": user.username, "password": PASSWORD}),
                      "POST", "/api/auth/token")
    check(await api.post("/api/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}),
          "POST", "/api/auth/refresh")
    check(await api.post("/api/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}),
          "POST", "/api/auth/refresh")  # spent: the documented 401
    # Every dialect 1 operation with a JSON success body was checked, but OAuth's own protocol endpoints.
    with_bodies = {f"{method.upper()} {path}" for path, item in check.document["paths"].items()
                   if not path.startswith("/api/v2") and path not in OAUTH_PROTOCOL
                   for method, operation in item.items()
                   if any(code.startswith("2") and "content" in response
                          for code, response in operation["responses"].items())}
    assert with_bodies - check.checked == set()


def test_every_example_validates_against_its_own_schema(document: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    wrong = []
    for name, schema in document["components"]["schemas"].items():
        validator = Draft202012Validator({**schema, "components": document["components"]})
        for example in schema.get("examples", []) if isinstance(schema.get("examples"), list) else []:
            wrong += [f"{name}: {error.message}" for error in validator.iter_errors(example)]
    assert wrong == []
