"""Users and sessions (dialect 2, plus dialect 1's token endpoint): register, login, refresh with rotation and
reuse detection, logout revocation, token expiry and the strength rule — each proven through the real app."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest
from fastapi import FastAPI
from ulid import ULID

from core.auth import tokens, users
from core.settings import get_settings
from tests.support import PASSWORD, bearer, client_for, new_user, token_for

SPEC_DEVELOPER_PERMISSIONS = {"swarms:manage", "agents:create", "tasks:execute"}


@pytest.fixture
async def anon_api(open_anon_api: httpx.AsyncClient) -> httpx.AsyncClient:
    """These tests register users: registration is off by default, so they run on the app that opened it."""
    return open_anon_api


def _name(prefix: str = "user") -> str:
    return f"{prefix}{str(ULID()).lower()[-12:]}"


async def _register(anon: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    name = _name()
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD, "fullName": "John Developer"}
    return await anon.post("/api/v2/auth/register", json={**body, **overrides})


async def _login(anon: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict:
    response = await anon.post("/api/v2/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _status(anon: httpx.AsyncClient, token: str, path: str = "/api/v2/workflows") -> int:
    return (await anon.get(path, headers=bearer(token))).status_code


async def test_register_returns_the_spec_body(anon_api: httpx.AsyncClient) -> None:
    name = _name("developer")
    response = await anon_api.post("/api/v2/auth/register", json={
        "username": name, "email": f"{name}@Example.com", "password": "SecureP@ssw0rd!", "fullName": "John Developer"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True and "timestamp" in body["meta"]
    user = body["data"]
    assert set(user) == {"id", "username", "email", "fullName", "role", "createdAt"}
    assert user["id"].startswith("usr-") and len(user["id"]) == 30
    assert (user["username"], user["email"], user["fullName"], user["role"]) == (
        name, f"{name}@example.com", "John Developer", "developer")
    assert user["createdAt"].endswith("Z")
    # Self-registered users are on the free tier.
    me = (await anon_api.get("/api/v2/auth/me", headers=bearer((await _login(anon_api, name))["accessToken"])))
    assert me.json()["data"]["tier"] == "free"


async def test_register_refuses_a_taken_username_or_email(anon_api: httpx.AsyncClient) -> None:
    first = (await _register(anon_api)).json()["data"]
    taken_name = await _register(anon_api, username=first["username"].upper())
    assert taken_name.status_code == 409
    assert taken_name.json() == {"success": False, "error": {
        "code": "AUTH_USER_EXISTS", "message": "Username already exists", "field": "username"}}
    taken_email = await _register(anon_api, email=first["email"].upper())
    assert taken_email.status_code == 409
    assert taken_email.json()["error"]["field"] == "email"
    assert taken_email.json()["error"]["code"] == "AUTH_USER_EXISTS"


@pytest.mark.parametrize("weak", ["Sh0rt!pw", "alllowercase1!", "ALLUPPERCASE1!", "NoDigitsHere!!", "NoSymbols1234"])
async def test_register_refuses_weak_passwords(anon_api: httpx.AsyncClient, weak: str) -> None:
    response = await _register(anon_api, password=weak)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in error["details"]] == ["password"]
    assert "Password needs" in error["details"][0]["message"]
    assert weak not in response.text


async def test_login_returns_tokens_and_the_users_permissions(anon_api: httpx.AsyncClient) -> None:
    user = (await _register(anon_api)).json()["data"]
    data = await _login(anon_api, user["username"])
    assert set(data) == {"accessToken", "refreshToken", "tokenType", "expiresIn", "user"}
    assert data["tokenType"] == "Bearer"
    assert data["expiresIn"] == get_settings().access_token_ttl_s
    assert data["user"]["id"] == user["id"] and data["user"]["username"] == user["username"]
    assert data["user"]["role"] == "developer"
    assert SPEC_DEVELOPER_PERMISSIONS | {"workflows:run", "memory:write", "workflows:read"} <= set(
        data["user"]["permissions"])
    assert await _status(anon_api, data["accessToken"]) == 200

    # HS256, with the claims that bind it to a session.
    assert jwt.get_unverified_header(data["accessToken"])["alg"] == "HS256"
    claims = jwt.decode(data["accessToken"], options={"verify_signature": False})
    assert {"sub", "sid", "jti", "iat", "exp", "typ"} <= set(claims)
    assert claims["sub"] == user["id"] and claims["typ"] == "access" and claims["sid"].startswith("ses-")

    # Signing in by e-mail address works too (dialect 1's example does).
    assert (await _login(anon_api, user["email"]))["user"]["id"] == user["id"]


async def test_bad_credentials_get_one_answer(anon_api: httpx.AsyncClient) -> None:
    user = (await _register(anon_api)).json()["data"]
    wrong_password = await anon_api.post("/api/v2/auth/login",
                                         json={"username": user["username"], "password": "Wr0ng-password!"})
    unknown_user = await anon_api.post("/api/v2/auth/login", json={"username": "nobody-here", "password": PASSWORD})
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json() == {"success": False, "error": {
        "code": "UNAUTHORIZED", "message": "Invalid username or password"}}


async def test_refresh_rotates_the_refresh_token(anon_api: httpx.AsyncClient) -> None:
    user = (await _register(anon_api)).json()["data"]
    first = await _login(anon_api, user["username"])
    refreshed = await anon_api.post("/api/v2/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()["data"]
    assert {"accessToken", "expiresIn", "refreshToken"} <= set(second)
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert await _status(anon_api, second["accessToken"]) == 200
    # The new refresh token is the one that works next.
    third = await anon_api.post("/api/v2/auth/refresh", json={"refreshToken": second["refreshToken"]})
    assert third.status_code == 200, third.text


async def test_a_reused_refresh_token_is_rejected_and_revokes_the_session(anon_api: httpx.AsyncClient) -> None:
    user = (await _register(anon_api)).json()["data"]
    first = await _login(anon_api, user["username"])
    other_session = await _login(anon_api, user["username"])
    second = (await anon_api.post("/api/v2/auth/refresh", json={"refreshToken": first["refreshToken"]})).json()["data"]

    replay = await anon_api.post("/api/v2/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "UNAUTHORIZED"
    assert replay.headers["www-authenticate"].startswith("Bearer")

    # Reuse means a leak: everything of that session is dead, including what the legitimate holder got.
    after = await anon_api.post("/api/v2/auth/refresh", json={"refreshToken": second["refreshToken"]})
    assert after.status_code == 401
    assert await _status(anon_api, second["accessToken"]) == 401
    assert await _status(anon_api, first["accessToken"]) == 401
    # Other sessions of the same user are untouched.
    assert await _status(anon_api, other_session["accessToken"]) == 200


async def test_logout_revokes_the_access_and_refresh_tokens(anon_api: httpx.AsyncClient) -> None:
    user = (await _register(anon_api)).json()["data"]
    session = await _login(anon_api, user["username"])
    other_session = await _login(anon_api, user["username"])
    assert await _status(anon_api, session["accessToken"]) == 200

    out = await anon_api.post("/api/v2/auth/logout", headers=bearer(session["accessToken"]))
    assert out.status_code == 204 and out.content == b""

    assert await _status(anon_api, session["accessToken"]) == 401
    refused = await anon_api.post("/api/v2/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert refused.status_code == 401
    assert (await anon_api.post("/api/v2/auth/logout", headers=bearer(session["accessToken"]))).status_code == 401
    assert await _status(anon_api, other_session["accessToken"]) == 200


async def test_expired_and_forged_tokens_are_refused(anon_api: httpx.AsyncClient) -> None:
    user = (await _register(anon_api)).json()["data"]
    session = await _login(anon_api, user["username"])
    sid = jwt.decode(session["accessToken"], options={"verify_signature": False})["sid"]
    expired, _ = tokens.issue(get_settings(), typ=tokens.ACCESS, sub=user["id"], sid=sid, ttl_s=-5)
    response = await anon_api.get("/api/v2/workflows", headers=bearer(expired))
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "UNAUTHORIZED", "message": "Token expired"}

    forged = jwt.encode({"sub": user["id"], "sid": sid, "jti": "x", "iat": 0, "exp": 2**40, "typ": "access",
                         "iss": "stellarflow"}, "not-the-server-secret-not-the-server-secret", algorithm="HS256")
    assert await _status(anon_api, forged) == 401
    unsigned = jwt.encode({"sub": user["id"], "sid": sid}, None, algorithm="none")  # type: ignore[arg-type]
    assert await _status(anon_api, unsigned) == 401
    # A refresh token is not an access token, nor the reverse.
    assert await _status(anon_api, session["refreshToken"]) == 401
    swapped = await anon_api.post("/api/v2/auth/refresh", json={"refreshToken": session["accessToken"]})
    assert swapped.status_code == 401
    assert await _status(anon_api, "garbage") == 401
    no_scheme = await anon_api.get("/api/v2/workflows", headers={"Authorization": session["accessToken"]})
    assert no_scheme.status_code == 401


async def test_dialect_1_token_endpoint(anon_api: httpx.AsyncClient) -> None:
    user = new_user("developer")
    response = await anon_api.post("/api/auth/token", json={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"token", "expires_in", "refresh_token"} <= set(body)
    assert body["expires_in"] == get_settings().access_token_ttl_s
    assert await _status(anon_api, body["token"]) == 200

    rotated = await anon_api.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != body["refresh_token"]
    replay = await anon_api.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert replay.status_code == 401

    bad = await anon_api.post("/api/auth/token", json={"username": user.username, "password": "Wr0ng-password!"})
    assert bad.status_code == 401
    assert bad.json()["error"] == {"code": "UNAUTHORIZED", "message": "Invalid username or password"}
    assert bad.json()["request_id"] == bad.headers["x-request-id"]


async def test_registration_is_closed_by_default(app: FastAPI) -> None:
    assert get_settings().allow_registration is False  # STELLARFLOW_ALLOW_REGISTRATION unset
    async with client_for(app) as client:
        response = await _register(client)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "REGISTRATION_CLOSED" and "ask an admin" in error["message"]
    sent = json.loads(response.request.content)
    assert not users.username_taken(sent["username"])  # nothing was created


async def test_registration_opens_when_enabled(open_anon_api: httpx.AsyncClient) -> None:
    response = await _register(open_anon_api)
    assert response.status_code == 201 and response.json()["data"]["role"] == "developer"


async def test_tier_resolver_for_the_rate_limiter(app: FastAPI, anon_api: httpx.AsyncClient) -> None:
    from core.auth.authenticate import TierResolver
    from core.limits.ratelimit import Caller

    resolve = TierResolver(get_settings(), ttl_s=0)  # the app's own caches for 5 s; this one not at all
    user = (await _register(anon_api)).json()["data"]
    session = await _login(anon_api, user["username"])
    assert resolve(session["accessToken"]) == Caller(tier="free", key=f"user:{user['id']}")
    assert resolve(token_for("admin")).tier == "enterprise"
    assert resolve("garbage") is None and resolve("") is None and resolve("sf_unknown") is None
    assert (await anon_api.post("/api/v2/auth/logout", headers=bearer(session["accessToken"]))).status_code == 204
    assert resolve(session["accessToken"]) is None
    assert app.state.tier_resolver(token_for("viewer", tier="pro")).tier == "pro"
