"""API keys in both dialects: created and shown once, listed without the secret, usable as a bearer token with
the owner's role, revoked for good; stored only as an HMAC."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlmodel import select

from core.auth.tables import ApiKeyRow
from core.db import session_scope, utcnow
from tests.support import bearer, client_for, new_user, token_for


async def _create(client: httpx.AsyncClient, name: str = "ci robot", **extra: object) -> dict:
    response = await client.post("/api/v2/auth/keys", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def _fresh(role: str = "developer") -> str:
    """A token of a user of its own, whose key list only this test fills."""
    return token_for(user=new_user(role))


async def test_create_shows_the_key_once_and_list_never_does(app: FastAPI) -> None:
    async with client_for(app, _fresh()) as me:
        created = await _create(me)
        key = created["key"]
        assert key.startswith("sf_") and len(key) > 40
        assert created["id"].startswith("key-")
        assert created["prefix"] == key[:11]
        assert created["name"] == "ci robot" and created["lastUsedAt"] is None and created["expiresAt"] is None
        assert created["createdAt"].endswith("Z")

        listed = await me.get("/api/v2/auth/keys")
        assert listed.status_code == 200
        assert key not in listed.text
        [item] = listed.json()["data"]
        assert {"id", "name", "prefix", "createdAt", "lastUsedAt"} <= set(item) and "key" not in item
        assert item["id"] == created["id"] and item["prefix"] == created["prefix"]

        # Using the key records when it was last used.
        assert (await me.get("/api/v2/workflows", headers=bearer(key))).status_code == 200
        [item] = (await me.get("/api/v2/auth/keys")).json()["data"]
        assert item["lastUsedAt"] is not None


async def test_keys_are_stored_as_an_hmac_only(app: FastAPI) -> None:
    async with client_for(app, token_for("developer")) as me:
        created = await _create(me)
    with session_scope() as session:
        row = session.get(ApiKeyRow, created["id"])
        assert row is not None
        assert created["key"] not in row.model_dump_json()
        assert len(row.secret_hash) == 64 and row.prefix == created["key"][:11]


async def test_a_key_acts_with_its_owners_role(app: FastAPI) -> None:
    async with client_for(app, token_for("viewer")) as viewer:
        key = (await _create(viewer))["key"]
    async with client_for(app, key) as by_key:
        assert (await by_key.get("/api/v2/workflows")).status_code == 200
        refused = await by_key.post("/api/v2/workflows/fan-out/runs", json={})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "FORBIDDEN"
        me = (await by_key.get("/api/v2/auth/me")).json()["data"]
        assert me["role"] == "viewer" and me["authMethod"] == "api_key"
        # A key has no session to end.
        assert (await by_key.post("/api/v2/auth/logout")).status_code == 400


async def test_revoke_stops_the_key_and_other_peoples_keys_are_not_found(app: FastAPI) -> None:
    async with client_for(app, _fresh()) as owner, client_for(app, _fresh()) as other:
        created = await _create(owner)
        key = created["key"]
        # Someone else's key id: 404, exactly as an id that does not exist, and the key keeps working.
        stranger = await other.delete(f"/api/v2/auth/keys/{created['id']}")
        assert stranger.status_code == 404
        assert stranger.json()["error"]["code"] == "RESOURCE_NOT_FOUND"
        assert (await other.get("/api/v2/workflows", headers=bearer(key))).status_code == 200
        assert (await other.get("/api/v2/auth/keys")).json()["data"] == []

        assert (await owner.delete(f"/api/v2/auth/keys/{created['id']}")).status_code == 204
        refused = await owner.get("/api/v2/workflows", headers=bearer(key))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert (await owner.delete(f"/api/v2/auth/keys/{created['id']}")).status_code == 404
        assert (await owner.get("/api/v2/auth/keys")).json()["data"] == []


async def test_expired_and_unknown_keys_are_refused(app: FastAPI) -> None:
    async with client_for(app, token_for("developer")) as me:
        created = await _create(me, expiresIn=3600)
        assert created["expiresAt"] is not None
        assert (await me.get("/api/v2/workflows", headers=bearer(created["key"]))).status_code == 200
        with session_scope() as session:
            row = session.get(ApiKeyRow, created["id"])
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
        assert (await me.get("/api/v2/workflows", headers=bearer(created["key"]))).status_code == 401
        assert (await me.get("/api/v2/workflows", headers=bearer("sf_" + "x" * 43))).status_code == 401
        bad = await me.post("/api/v2/auth/keys", json={"name": ""})
        assert bad.status_code == 400


async def test_dialect_1_keys(app: FastAPI) -> None:
    user = new_user("developer")
    async with client_for(app, token_for(user=user)) as me:
        response = await me.post("/api/auth/keys", json={"name": "deploy bot"})
        assert response.status_code == 201, response.text
        created = response.json()
        assert set(created) >= {"id", "name", "prefix", "key", "created_at", "last_used_at"}
        assert response.headers["location"] == f"/api/auth/keys/{created['id']}"

        listed = (await me.get("/api/auth/keys")).json()
        assert [k["id"] for k in listed["keys"]] == [created["id"]] and created["key"] not in str(listed)

        by_key = await me.get("/api/v2/auth/me", headers=bearer(created["key"]))
        assert by_key.json()["data"]["id"] == user.id

        assert (await me.delete(f"/api/auth/keys/{created['id']}")).status_code == 204
        gone = await me.delete(f"/api/auth/keys/{created['id']}")
        assert gone.status_code == 404
        assert set(gone.json()) == {"error", "request_id"}
    with session_scope() as session:
        rows = session.exec(select(ApiKeyRow).where(ApiKeyRow.user_id == user.id)).all()
        assert [row.revoked_at is not None for row in rows] == [True]
