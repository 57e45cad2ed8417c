"""Shared memory through both REST dialects, on SQLite and on PostgreSQL (the same tests, parametrized by backend).

Each half of the session (tests/conftest.py: SQLite, then PostgreSQL) gets an app of its own on that half's database,
with the Free tier's memory quota lowered to 4 KiB so a quota refusal needs only a few requests.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from api.main import create_app
from core.db import engine_for
from core.events.tables import EventRow
from core.memory.service import Caller, service_for
from core.settings import Settings
from tests.support import client_for, new_user, shared_user, token_for

FREE_QUOTA = 4096

# The spec's example bodies (claude-flow-api.md "Memory Management", stellarflow-api.md "Memory Management").
SPEC_STORE_V1 = {
    "key": "project_context",
    "value": {"description": "E-commerce platform", "tech_stack": ["Node.js", "React", "PostgreSQL"],
              "requirements": ["scalability", "security", "performance"]},
    "namespace": "project-alpha",
    "ttl": 86400,
    "tags": ["context", "requirements"],
    "access_level": "shared",
}
SPEC_UPDATE_V1 = {
    "value": {"description": "Updated e-commerce platform", "tech_stack": ["Node.js", "React", "PostgreSQL", "Redis"],
              "requirements": ["scalability", "security", "performance", "caching"]},
    "merge": True,
    "create_version": True,
}
SPEC_STORE_V2 = {
    "namespace": "project-alpha",
    "key": "architecture-decisions",
    "value": {"database": "PostgreSQL", "cache": "Redis", "queue": "RabbitMQ", "decided": "2025-07-23T10:00:00Z",
              "rationale": "Scalability and reliability requirements"},
    "ttl": 2592000,
    "tags": ["architecture", "decisions", "backend"],
}


@dataclass
class Backend:
    name: str
    url: str
    app: FastAPI
    settings: Settings


@pytest.fixture(scope="module")
async def backend(database) -> AsyncIterator[Backend]:
    """An app of its own (lower quotas) on the session's database of this half: SQLite or PostgreSQL."""
    settings = Settings(database_url=database.url, quotas={"free": {"memory_bytes": FREE_QUOTA}})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield Backend(database.backend, database.url, app, settings)


@pytest.fixture
async def admin(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(backend.app, token_for("admin")) as client:
        yield client


def _ns(label: str) -> str:
    """A namespace of this test's own, so tests never see each other's entries."""
    return f"{label}-{os.urandom(4).hex()}"


def _v1_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}, body
    assert body["error"]["code"] == code, body
    return body["error"]


def _v2_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False, body
    assert body["error"]["code"] == code, body
    return body["error"]


def _field(error: dict) -> str:
    details = error["details"]
    return details[0]["field"] if isinstance(details, list) else details["field"]


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


# ---- the spec's bodies -----------------------------------------------------------------------------------------


async def test_store_retrieve_update_delete_with_the_spec_bodies(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("project-alpha")
    body = {**SPEC_STORE_V1, "namespace": ns}
    stored = await admin.post("/api/memory", json=body)
    assert stored.status_code == 201, stored.text
    assert stored.headers["etag"] == '"1"'
    created = stored.json()
    assert created["id"].startswith("mem-")
    assert (created["key"], created["namespace"], created["version"]) == ("project_context", ns, 1)
    assert created["tags"] == ["context", "requirements"] and created["access_level"] == "shared"
    assert _parse(created["expires_at"]) - _parse(created["created_at"]) == timedelta(seconds=86400)

    first = (await admin.get("/api/memory/project_context", params={"namespace": ns})).json()
    second = await admin.get("/api/memory/project_context", params={"namespace": ns})
    assert second.status_code == 200 and second.headers["etag"] == '"1"'
    got = second.json()
    spec_fields = {"key", "value", "namespace", "version", "created_at", "updated_at", "accessed_count", "tags"}
    assert spec_fields <= set(got)
    assert got["value"] == SPEC_STORE_V1["value"]
    assert (first["accessed_count"], got["accessed_count"]) == (1, 2)
    assert got["last_accessed"] is not None

    updated = await admin.put("/api/memory/project_context", params={"namespace": ns}, json=SPEC_UPDATE_V1)
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2 and updated.headers["etag"] == '"2"'
    assert updated.json()["value"] == SPEC_UPDATE_V1["value"]  # a merge patch of objects replaces the arrays
    assert updated.json()["tags"] == ["context", "requirements"]  # not given: kept
    assert updated.json()["expires_at"] == created["expires_at"]  # ttl not given: kept

    latest = (await admin.get("/api/memory/project_context", params={"namespace": ns})).json()
    assert latest["version"] == 2 and latest["value"]["tech_stack"][-1] == "Redis"
    old = (await admin.get("/api/memory/project_context", params={"namespace": ns, "version": 1})).json()
    assert old["version"] == 1 and old["value"] == SPEC_STORE_V1["value"] and old["latest_version"] == 2

    deleted = await admin.delete("/api/memory/project_context", params={"namespace": ns})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"deleted": True, "namespace": ns, "keys": ["project_context"], "versions_deleted": 0}
    _v1_error(await admin.get("/api/memory/project_context", params={"namespace": ns}), 404, "RESOURCE_NOT_FOUND")
    # a plain delete keeps the history; storing the key again continues its numbering
    assert (await admin.get("/api/memory/project_context", params={"namespace": ns, "version": 2})).status_code == 200
    again = await admin.post("/api/memory", json=body)
    assert again.json()["version"] == 3


async def test_query_with_the_spec_parameters(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("project-alpha")
    entries = {
        "api_design": ({"summary": "RESTful API design patterns for the storefront", "auth": "OAuth 2.0 with PKCE"},
                       ["api", "design"]),
        "authentication": ({"decision": "Use short-lived JWTs and refresh token rotation"}, ["security"]),
        "deployment": ({"notes": "Blue-green deployments; the authentication service deploys first"}, ["ops"]),
        "frontend": ({"notes": "React with server-side rendering; design system in Storybook"}, ["design"]),
    }
    for key, (value, tags) in entries.items():
        response = await admin.post("/api/memory", json={"key": key, "value": value, "namespace": ns, "tags": tags})
        assert response.status_code == 201, response.text

    found = await admin.get("/api/memory/query", params={"pattern": "authentication", "namespace": ns,
                                                          "limit": 10})
    assert found.status_code == 200, found.text
    body = found.json()
    assert set(body) == {"results", "total", "query_time"}
    assert isinstance(body["query_time"], int | float) and body["query_time"] > 0
    keys = [r["key"] for r in body["results"]]
    assert body["total"] == 2 and set(keys) == {"authentication", "deployment"}
    assert keys[0] == "authentication"  # a match in the key outranks one in the text
    top, other = body["results"]
    assert top["relevance"] == 1.0 and 0 < other["relevance"] < 1.0
    assert set(top) >= {"key", "namespace", "relevance", "snippet", "tags"}
    assert "<mark>authentication</mark>" in other["snippet"]

    phrase = (await admin.get("/api/memory/query", params={"pattern": '"design patterns"', "namespace": ns})).json()
    assert [r["key"] for r in phrase["results"]] == ["api_design"]
    marked = re.findall(r"<mark>(.*?)</mark>", phrase["results"][0]["snippet"])
    assert " ".join(marked) == "design patterns"  # SQLite marks the phrase, PostgreSQL each word
    prefix = (await admin.get("/api/memory/query", params={"pattern": "auth*", "namespace": ns})).json()
    assert {r["key"] for r in prefix["results"]} == {"api_design", "authentication", "deployment"}
    tagged = (await admin.get("/api/memory/query", params={"pattern": "design", "namespace": ns,
                                                            "tags": ["design", "api"]})).json()
    assert [r["key"] for r in tagged["results"]] == ["api_design"]
    either = (await admin.get("/api/memory/query", params={"pattern": "storybook OR rotation -jwts",
                                                            "namespace": ns})).json()
    assert [r["key"] for r in either["results"]] == ["frontend"]
    page = (await admin.get("/api/memory/query", params={"pattern": "auth*", "namespace": ns, "limit": 1})).json()
    assert len(page["results"]) == 1 and page["total"] == 3
    exact = (await admin.get("/api/memory/query", params={"pattern": "deploys", "namespace": ns})).json()
    assert [r["key"] for r in exact["results"]] == ["deployment"]
    words = (await admin.get("/api/memory/query", params={"pattern": "deploy*", "namespace": ns})).json()
    assert [r["key"] for r in words["results"]] == ["deployment"]  # key, "deployments" and "deploys": one entry


async def test_search_v2_with_the_spec_bodies(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("project-alpha")
    before = datetime.now(UTC)
    stored = await admin.post("/api/v2/memory", json={**SPEC_STORE_V2, "namespace": ns})
    assert stored.status_code == 201, stored.text
    data = stored.json()["data"]
    assert stored.json()["success"] is True
    assert data["id"].startswith("mem-") and data["namespace"] == ns and data["key"] == "architecture-decisions"
    assert data["size"] == len(stored.request.content) - len(stored.request.content) + data["size"] > 0
    assert _parse(data["expiresAt"]) - _parse(data["createdAt"]) == timedelta(seconds=2592000)
    other = {**SPEC_STORE_V2, "namespace": ns, "key": "architecture-notes", "tags": ["architecture"],
             "value": {"notes": "architecture review pending"}}
    assert (await admin.post("/api/v2/memory", json=other)).status_code == 201
    await admin.get("/api/memory/architecture-decisions", params={"namespace": ns})  # one access

    found = await admin.get("/api/v2/memory/search", params={"q": "architecture", "namespace": ns,
                                                             "tags": "decisions"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["success"] is True
    assert body["meta"]["totalResults"] == 1 and body["meta"]["searchTime"] > 0
    [hit] = body["data"]
    assert hit["id"] == data["id"] and hit["key"] == "architecture-decisions"
    assert hit["preview"].startswith("database: PostgreSQL, cache: Redis")
    assert hit["size"] == data["size"] and hit["tags"] == ["architecture", "decisions", "backend"]
    assert hit["accessCount"] == 1 and _parse(hit["lastAccessed"]) >= before
    assert _parse(hit["createdAt"]) >= before - timedelta(seconds=1)

    both = (await admin.get("/api/v2/memory/search", params={"q": "architecture", "namespace": ns})).json()
    assert both["meta"]["totalResults"] == 2
    later = (await admin.get("/api/v2/memory/search", params={
        "q": "architecture", "namespace": ns, "after": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()})).json()
    assert later["meta"]["totalResults"] == 0
    earlier = (await admin.get("/api/v2/memory/search", params={
        "q": "architecture", "namespace": ns, "before": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()})).json()
    assert earlier["meta"]["totalResults"] == 2


async def test_stats_with_a_real_read_cache(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("stats")
    for index in range(3):
        await admin.post("/api/memory", json={"key": f"k{index}", "value": {"n": index}, "namespace": ns})
    before = (await admin.get("/api/memory/stats")).json()
    assert set(before) == {"total_entries", "namespaces", "size_bytes", "cache_hits", "cache_misses", "hit_rate",
                           "top_namespaces", "memory_usage"}
    assert before["total_entries"] >= 3 and before["namespaces"] >= 1 and before["size_bytes"] > 0
    assert set(before["memory_usage"]) == {"used", "limit", "percentage"}
    assert before["memory_usage"]["limit"] is None  # the admin is on Enterprise: unlimited
    for _ in range(4):
        assert (await admin.get("/api/memory/k0", params={"namespace": ns})).status_code == 200
    service_for(backend.url).cache.invalidate(ns, "k1")  # as if this process had never seen it
    assert (await admin.get("/api/memory/k1", params={"namespace": ns})).status_code == 200
    after = (await admin.get("/api/memory/stats")).json()
    assert after["cache_hits"] - before["cache_hits"] == 4  # written through on store, then served from the cache
    assert after["cache_misses"] - before["cache_misses"] == 1
    assert 0 < after["hit_rate"] <= 1

    # the cache never serves a stale value: another process (here, another service object) writes the key
    from core.memory.service import MemoryService

    elsewhere = MemoryService(engine_for(backend.url))
    elsewhere.store(Caller(owner=shared_user("admin").id), ns, "k0", {"n": "changed elsewhere"})
    fresh = (await admin.get("/api/memory/k0", params={"namespace": ns})).json()
    assert fresh["value"] == {"n": "changed elsewhere"} and fresh["version"] == 2

    async with client_for(backend.app, token_for("developer", tier="free")) as free:
        usage = (await free.get("/api/memory/stats")).json()["memory_usage"]
    assert usage["limit"] == FREE_QUOTA and 0 <= usage["percentage"] <= 1


# ---- versions, merge, cascade -----------------------------------------------------------------------------------


async def test_rfc7386_merge_and_create_version(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("merge")
    value = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["example", "sample"],
             "content": "This will be unchanged"}
    await admin.post("/api/memory", json={"key": "doc", "value": value, "namespace": ns})
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["example"]}
    merged = await admin.put("/api/memory/doc", params={"namespace": ns}, json={"value": patch, "merge": True})
    assert merged.status_code == 200, merged.text
    assert merged.json()["value"] == {"title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
                                      "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"}
    replaced = await admin.put("/api/memory/doc", params={"namespace": ns},
                               json={"value": [1, 2], "create_version": False, "tags": ["t"], "ttl": 3600})
    assert replaced.json()["version"] == 3 and replaced.json()["value"] == [1, 2]
    assert replaced.json()["tags"] == ["t"] and replaced.json()["ttl"] == 3600
    assert (await admin.get("/api/memory/doc", params={"namespace": ns, "version": 1})).status_code == 200
    _v1_error(await admin.get("/api/memory/doc", params={"namespace": ns, "version": 2}), 404, "RESOURCE_NOT_FOUND")
    _v1_error(await admin.put("/api/memory/missing", params={"namespace": ns}, json={"value": 1}), 404,
              "RESOURCE_NOT_FOUND")


async def test_cascade_deletes_versions_and_children(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("cascade")
    for key in ("project", "project/api", "project/api/auth", "projects", "other/project"):
        await admin.post("/api/memory", json={"key": key, "value": {"k": key}, "namespace": ns})
    await admin.put("/api/memory/project", params={"namespace": ns}, json={"value": {"k": "v2"}})
    assert (await admin.get("/api/memory/project/api/auth", params={"namespace": ns})).json()["value"] == {
        "k": "project/api/auth"}
    deleted = await admin.delete("/api/memory/project", params={"namespace": ns, "cascade": "true"})
    assert deleted.status_code == 200, deleted.text
    assert sorted(deleted.json()["keys"]) == ["project", "project/api", "project/api/auth"]
    assert deleted.json()["versions_deleted"] == 4
    for key in ("project", "project/api", "project/api/auth"):
        assert (await admin.get(f"/api/memory/{key}", params={"namespace": ns})).status_code == 404
    assert (await admin.get("/api/memory/project", params={"namespace": ns, "version": 1})).status_code == 404
    for key in ("projects", "other/project"):
        assert (await admin.get(f"/api/memory/{key}", params={"namespace": ns})).status_code == 200
    _v1_error(await admin.delete("/api/memory/project", params={"namespace": ns}), 404, "RESOURCE_NOT_FOUND")


# ---- limits and bad input ----------------------------------------------------------------------------------------


async def test_limits_and_bad_input(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("limits")
    huge = {"blob": "x" * (1024 * 1024)}
    error = _v1_error(await admin.post("/api/memory", json={"key": "big", "value": huge, "namespace": ns}), 413,
                      "PAYLOAD_TOO_LARGE")
    assert error["details"]["limit"] == 1024 * 1024
    _v2_error(await admin.post("/api/v2/memory", json={"key": "big", "value": huge, "namespace": ns}), 413,
              "PAYLOAD_TOO_LARGE")
    await admin.post("/api/memory", json={"key": "small", "value": 1, "namespace": ns})
    _v1_error(await admin.put("/api/memory/small", params={"namespace": ns}, json={"value": huge}), 413,
              "PAYLOAD_TOO_LARGE")
    assert (await admin.get("/api/memory/small", params={"namespace": ns})).json()["version"] == 1

    for body, field in (({"key": "k", "value": 1, "namespace": "bad namespace!"}, "namespace"),
                        ({"key": "bad key with spaces", "value": 1, "namespace": ns}, "key"),
                        ({"key": "trailing/", "value": 1, "namespace": ns}, "key"),
                        ({"key": "k", "value": 1, "namespace": ns, "ttl": -5}, "ttl"),
                        ({"key": "k", "value": 1, "namespace": ns, "tags": ["no spaces please"]}, "tags[0]")):
        assert _field(_v1_error(await admin.post("/api/memory", json=body), 400, "VALIDATION_ERROR")) == field
        assert _field(_v2_error(await admin.post("/api/v2/memory", json=body), 400, "VALIDATION_ERROR")) == field
    assert _field(_v1_error(await admin.get("/api/memory/k", params={"namespace": "no/slash"}), 400,
                            "VALIDATION_ERROR")) == "namespace"
    assert _field(_v1_error(await admin.get("/api/memory/" + quote("bad key")), 400, "VALIDATION_ERROR")) == "key"

    for pattern in ('"unclosed', "*", "-only", "OR foo", "foo OR", "NOT", "!!!", "a*b"):
        error = _v1_error(await admin.get("/api/memory/query", params={"pattern": pattern}), 400, "VALIDATION_ERROR")
        assert _field(error) == "pattern", pattern
        error = _v2_error(await admin.get("/api/v2/memory/search", params={"q": pattern}), 400, "VALIDATION_ERROR")
        assert _field(error) == "q", pattern
    # engine syntax is only ever a word to us: nothing here is a 400 or a 500
    for pattern in ('NEAR(a b)', "col:val", "a AND b", "^start", "x + y", "'quoted'", "a & b | !c"):
        response = await admin.get("/api/memory/query", params={"pattern": pattern})
        assert response.status_code == 200, (pattern, response.text)


async def test_if_match_optimistic_concurrency(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("ifmatch")
    await admin.post("/api/memory", json={"key": "doc", "value": {"v": 1}, "namespace": ns})
    ok = await admin.put("/api/memory/doc", params={"namespace": ns}, json={"value": {"v": 2}},
                         headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = await admin.put("/api/memory/doc", params={"namespace": ns}, json={"value": {"v": 3}},
                            headers={"If-Match": '"1"'})
    error = _v1_error(stale, 412, "PRECONDITION_FAILED")
    assert error["details"] == {"expected": 1, "current": 2}
    assert (await admin.get("/api/memory/doc", params={"namespace": ns})).json()["value"] == {"v": 2}
    _v2_error(await admin.post("/api/v2/memory", json={"key": "doc", "value": 0, "namespace": ns},
                               headers={"If-Match": "7"}), 412, "PRECONDITION_FAILED")
    _v1_error(await admin.delete("/api/memory/doc", params={"namespace": ns}, headers={"If-Match": "1"}), 412,
              "PRECONDITION_FAILED")
    _v1_error(await admin.put("/api/memory/doc", params={"namespace": ns}, json={"value": 0},
                              headers={"If-Match": "soon"}), 400, "VALIDATION_ERROR")

    # two writers that both read version 2: exactly one wins
    answers = await asyncio.gather(*[
        admin.put("/api/memory/doc", params={"namespace": ns}, json={"value": {"writer": n}},
                  headers={"If-Match": '"2"'}) for n in range(2)])
    assert sorted(a.status_code for a in answers) == [200, 412]
    assert (await admin.delete("/api/memory/doc", params={"namespace": ns}, headers={"If-Match": '"3"'})).status_code \
        == 200


async def test_twenty_concurrent_writers_lose_nothing(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("concurrent")
    stores = await asyncio.gather(*[
        admin.post("/api/memory", json={"key": "counter", "value": {"writer": n}, "namespace": ns})
        for n in range(20)])
    assert all(s.status_code == 201 for s in stores), [s.text for s in stores if s.status_code != 201]
    assert sorted(s.json()["version"] for s in stores) == list(range(1, 21))
    history = [(await admin.get("/api/memory/counter", params={"namespace": ns, "version": v})).json()["value"]
               for v in range(1, 21)]
    assert sorted(item["writer"] for item in history) == list(range(20))

    merges = await asyncio.gather(*[
        admin.put("/api/memory/counter", params={"namespace": ns}, json={"value": {f"w{n}": n}, "merge": True})
        for n in range(20)])
    assert all(m.status_code == 200 for m in merges), [m.text for m in merges if m.status_code != 200]
    assert sorted(m.json()["version"] for m in merges) == list(range(21, 41))
    final = (await admin.get("/api/memory/counter", params={"namespace": ns})).json()
    assert final["version"] == 40
    assert all(final["value"][f"w{n}"] == n for n in range(20))  # every merge landed on top of the others


async def test_quota_refuses_and_writes_nothing(backend: Backend) -> None:
    ns = _ns("quota")
    async with client_for(backend.app, token_for("developer", tier="free")) as free:
        used = (await free.get("/api/memory/stats")).json()["memory_usage"]["used"]
        assert used <= FREE_QUOTA - 3000
        first = await free.post("/api/memory", json={"key": "a", "value": "x" * (FREE_QUOTA - used - 1000),
                                                     "namespace": ns})
        assert first.status_code == 201, first.text
        refused = await free.post("/api/memory", json={"key": "b", "value": "y" * 2000, "namespace": ns})
        error = _v1_error(refused, 403, "QUOTA_EXCEEDED")
        assert error["details"]["quota"] == "memory_bytes" and error["details"]["limit"] == FREE_QUOTA
        assert "memory storage" in error["message"]
        _v2_error(await free.post("/api/v2/memory", json={"key": "b", "value": "y" * 2000, "namespace": ns}), 403,
                  "QUOTA_EXCEEDED")
        assert (await free.get("/api/memory/b", params={"namespace": ns})).status_code == 404
        grow = await free.put("/api/memory/a", params={"namespace": ns}, json={"value": "z" * FREE_QUOTA})
        _v1_error(grow, 403, "QUOTA_EXCEEDED")
        kept = (await free.get("/api/memory/a", params={"namespace": ns})).json()
        assert kept["version"] == 1 and kept["value"].startswith("x")
        assert (await free.get("/api/memory/stats")).json()["memory_usage"]["used"] == used + first.json()["size"]
        # shrinking is always allowed, and frees room
        assert (await free.put("/api/memory/a", params={"namespace": ns}, json={"value": "small"})).status_code == 200
        assert (await free.post("/api/memory", json={"key": "b", "value": "y" * 2000, "namespace": ns})).status_code \
            == 201


async def test_access_levels(backend: Backend, admin: httpx.AsyncClient) -> None:
    ns = _ns("access")
    marker = f"marker{os.urandom(4).hex()}"
    async with client_for(backend.app, token_for("developer")) as alice, \
            client_for(backend.app, token_for("developer", user=new_user())) as bob, \
            client_for(backend.app, token_for("viewer")) as viewer:
        for key, level in (("mine", "private"), ("ours", "shared"), ("everyone", "public")):
            response = await alice.post("/api/memory", json={"key": key, "value": {"secret": key, "marker": marker},
                                                             "namespace": ns, "access_level": level})
            assert response.status_code == 201, response.text
        assert (await alice.get("/api/memory/mine", params={"namespace": ns})).status_code == 200
        # another user: a private entry is not theirs to see, find or take
        _v1_error(await bob.get("/api/memory/mine", params={"namespace": ns}), 404, "RESOURCE_NOT_FOUND")
        _v1_error(await bob.put("/api/memory/mine", params={"namespace": ns}, json={"value": 1}), 404,
                  "RESOURCE_NOT_FOUND")
        _v1_error(await bob.delete("/api/memory/mine", params={"namespace": ns}), 404, "RESOURCE_NOT_FOUND")
        _v1_error(await bob.post("/api/memory", json={"key": "mine", "value": 1, "namespace": ns}), 409, "CONFLICT")
        found = (await bob.get("/api/memory/query", params={"pattern": "secret", "namespace": ns})).json()
        assert {r["key"] for r in found["results"]} == {"ours", "everyone"}
        everywhere = (await bob.get("/api/memory/query", params={"pattern": marker, "limit": 1})).json()
        assert everywhere["total"] == 2 and len(everywhere["results"]) == 1  # the count skips the private one
        assert (await alice.get("/api/memory/query", params={"pattern": marker, "limit": 1})).json()["total"] == 3
        assert (await bob.get("/api/memory/stats")).status_code == 200
        # shared entries are readable by everyone but written by their owner only (docs/access.md)
        assert (await viewer.get("/api/memory/ours", params={"namespace": ns})).status_code == 200
        assert (await bob.get("/api/memory/ours", params={"namespace": ns})).status_code == 200
        _v1_error(await viewer.put("/api/memory/ours", params={"namespace": ns}, json={"value": 1}), 403, "FORBIDDEN")
        for attempt in (bob.put("/api/memory/ours", params={"namespace": ns}, json={"value": 1}),
                        bob.post("/api/memory", json={"key": "ours", "value": 1, "namespace": ns}),
                        bob.delete("/api/memory/ours", params={"namespace": ns})):
            _v1_error(await attempt, 403, "FORBIDDEN")
        _v1_error(await bob.put("/api/memory/ours", params={"namespace": ns},
                                json={"value": 1, "access_level": "public"}), 403, "FORBIDDEN")
        # an admin reads and writes every entry (the owner stays the owner)
        assert (await admin.get("/api/memory/mine", params={"namespace": ns})).status_code == 200
        found = (await admin.get("/api/memory/query", params={"pattern": "secret", "namespace": ns})).json()
        assert {r["key"] for r in found["results"]} == {"mine", "ours", "everyone"}
        everywhere = (await admin.get("/api/memory/query", params={"pattern": marker, "limit": 1})).json()
        assert everywhere["total"] == 3 and len(everywhere["results"]) == 1
        changed = await admin.put("/api/memory/ours", params={"namespace": ns}, json={"value": {"secret": "x"}})
        assert changed.status_code == 200 and changed.json()["owner"] == shared_user("developer").id

    # an internal reader (the LLM executor's read_context with no owner) sees shared and public entries only
    service = service_for(backend.url)
    internal = Caller(owner=None)
    assert service.get(internal, ns, "everyone").value == {"secret": "everyone", "marker": marker}
    assert service.get(internal, ns, "ours").value == {"secret": "x"}
    with pytest.raises(Exception, match="not found"):
        service.get(internal, ns, "mine")


async def test_ttl_an_expired_entry_is_never_returned_and_the_sweep_records_it(backend: Backend,
                                                                             admin: httpx.AsyncClient) -> None:
    ns = _ns("ttl")
    short = await admin.post("/api/memory", json={"key": "brief", "value": {"note": "ephemeral"}, "namespace": ns,
                                                  "ttl": 1, "tags": ["ttl"]})
    assert short.status_code == 201
    await admin.post("/api/memory", json={"key": "brief/child", "value": 1, "namespace": ns, "ttl": 1})
    await admin.post("/api/memory", json={"key": "lasting", "value": {"note": "ephemeral too"}, "namespace": ns})
    assert (await admin.get("/api/memory/brief", params={"namespace": ns})).status_code == 200
    expires = _parse(short.json()["expires_at"])
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)

    # not swept yet, and already gone from every read path
    _v1_error(await admin.get("/api/memory/brief", params={"namespace": ns}), 404, "RESOURCE_NOT_FOUND")
    _v1_error(await admin.get("/api/memory/brief", params={"namespace": ns, "version": 1}), 404, "RESOURCE_NOT_FOUND")
    found = (await admin.get("/api/memory/query", params={"pattern": "ephemeral", "namespace": ns})).json()
    assert [r["key"] for r in found["results"]] == ["lasting"] and found["total"] == 1
    anywhere = (await admin.get("/api/memory/query", params={"pattern": "ephemeral", "limit": 1})).json()
    assert anywhere["total"] == 1  # counted without the expired match, across namespaces too
    listed = (await admin.get("/api/v2/memory/search", params={"namespace": ns, "tags": "ttl"})).json()
    assert listed["meta"]["totalResults"] == 0
    stats = (await admin.get("/api/memory/stats")).json()
    assert ns not in {n["name"] for n in stats["top_namespaces"]} or \
        next(n for n in stats["top_namespaces"] if n["name"] == ns)["entries"] == 1
    _v1_error(await admin.put("/api/memory/brief", params={"namespace": ns}, json={"value": 2}), 404,
              "RESOURCE_NOT_FOUND")

    swept = service_for(backend.url).sweep_expired()
    mine = sorted(item.key for item in swept if item.namespace == ns)
    assert mine == ["brief", "brief/child"]
    with Session(engine_for(backend.url)) as session:
        events = session.exec(select(EventRow).where(EventRow.resource_id == short.json()["id"])).all()
    assert [(e.type, e.data["key"], e.data["namespace"]) for e in events] == [("memory.expired", "brief", ns)]
    assert not [item for item in service_for(backend.url).sweep_expired() if item.namespace == ns]  # idempotent
    # the key is free again, as a new entry
    again = await admin.post("/api/memory", json={"key": "brief", "value": 2, "namespace": ns})
    assert again.json()["version"] == 1 and again.json()["id"] != short.json()["id"]


# ---- search filters inside the index, candidates beyond the page -----------------------------------------------


async def test_filters_are_exact_and_pages_skip_what_the_caller_cannot_see(backend: Backend,
                                                                           admin: httpx.AsyncClient) -> None:
    service = service_for(backend.url)
    ns = _ns("exact")
    word = f"zeta{os.urandom(4).hex()}"
    alice, bob = Caller(owner="alice-exact"), Caller(owner="bob-exact")
    # tags and namespaces that share words with the filter: only the exact name may pass it
    for key, tags, namespace in (("plain", ["a-b"], ns), ("longer", ["a-b-c"], ns), ("upper", ["A-B"], ns),
                                 ("dotted", ["a.b"], ns), ("elsewhere", ["a-b"], f"{ns}-x")):
        service.store(alice, namespace, key, {"text": f"{word} filter check"}, tags=tags)
    hits = service.search(alice, word, namespace=ns, tags=["a-b"])
    assert [(h.namespace, h.key) for h in hits.hits] == [(ns, "plain")] and hits.total == 1
    assert {h.key for h in service.search(alice, word, namespace=ns).hits} == {"plain", "longer", "upper", "dotted"}
    assert [h.key for h in service.search(alice, word, tags=["A-B"]).hits] == ["upper"]
    assert service.search(alice, word, namespace=f"{ns}-x").total == 1
    # search words never match the index's filter tokens
    assert service.search(alice, "n6*", namespace=ns).total == 0
    assert service.search(alice, "t612d62", namespace=ns).total == 0

    # 60 private entries of bob's rank above the 3 everyone may see (the word is their tag, weighted above text)
    for n in range(60):
        service.store(bob, ns, f"hidden{n}", {"text": "hidden"}, tags=[word], access_level="private")
    for n in range(3):
        service.store(alice, ns, f"seen{n}", {"text": f"{word} {'filler ' * n}"})
    first = service.search(alice, word, namespace=ns, limit=2)
    assert len(first.hits) == 2 and first.total == 7  # 4 filter-check entries in ns + 3 seen
    keys = [h.key for page in range(4) for h in service.search(alice, word, namespace=ns, limit=2,
                                                               offset=page * 2).hits]
    assert len(keys) == len(set(keys)) == 7 and not any(key.startswith("hidden") for key in keys)
    past = service.search(alice, word, namespace=ns, limit=2, offset=20)
    assert past.hits == [] and past.total == 7
    assert service.search(bob, word, namespace=ns, limit=1).total == 67
    assert service.search(Caller(owner=None), word, limit=5).total == 8  # both namespaces, nothing private
    found = (await admin.get("/api/memory/query", params={"pattern": word, "namespace": ns, "tags": "a-b"})).json()
    assert [r["key"] for r in found["results"]] == ["plain"] and found["total"] == 1
    assert found["results"][0]["relevance"] == 1.0 and "<mark>" in found["results"][0]["snippet"]


@pytest.mark.database("sqlite", reason="SQLite's FTS5 table; PostgreSQL's upgrade: tests/test_migrations.py")
def test_a_store_made_before_filter_terms_is_upgraded(tmp_path) -> None:
    from sqlalchemy import create_engine

    from core.memory.service import MemoryService
    from core.memory.tables import upgrade_schema

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    service = MemoryService(engine_for(f"sqlite:///{tmp_path / 'old.db'}"))
    service.store(Caller(owner="u"), "old-ns", "k", {"text": "legacy words"}, tags=["t1"])
    with engine.begin() as connection:  # the FTS table as it was: three columns, no filter tokens
        for name in ("memory_fts_ai", "memory_fts_ad", "memory_fts_au"):
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
        connection.exec_driver_sql("DROP TABLE memory_fts")
        connection.exec_driver_sql("CREATE VIRTUAL TABLE memory_fts USING fts5(key, search_text, tags_text, "
                                   "content='memory_entries', content_rowid='pk')")
        connection.exec_driver_sql("UPDATE memory_entries SET filter_terms = ''")
    with engine.begin() as connection:
        upgrade_schema(connection)
        upgrade_schema(connection)  # a no-op once current
    found = service.search(Caller(owner="u"), "legacy", namespace="old-ns", tags=["t1"])
    assert [h.key for h in found.hits] == ["k"] and found.total == 1
