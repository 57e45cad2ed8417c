"""No password, token or API key secret in any log record or error body, with every logger at DEBUG.

The test walks the whole credential life cycle (register, a refused weak password, login, refresh, a replayed
refresh, key creation and use, failed logins — one with the password typed into the username field — bad
tokens, logout) and then greps everything that was logged and every error body for each secret it saw."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from ulid import ULID

from tests.support import bearer, client_for


async def test_no_secret_reaches_a_log_line_or_an_error_body(open_app: FastAPI,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    app = open_app  # the life cycle starts with self-registration, which is off by default
    caplog.set_level(logging.DEBUG)
    secrets: set[str] = set()
    errors: list[httpx.Response] = []
    name = f"safe{str(ULID()).lower()[-10:]}"
    password = "C0rrect-Horse-Battery!"
    typo_password = "C0rrect-Horse-Batt3ry?"
    weak = "weakpassword"
    secrets |= {password, typo_password, weak}

    async with client_for(app) as anon:
        async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
            response = await anon.request(method, path, **kwargs)
            if response.status_code >= 400:
                errors.append(response)
            return response

        await call("POST", "/api/v2/auth/register", json={"username": name + "w", "email": f"{name}w@example.com",
                                                          "password": weak})
        await call("POST", "/api/v2/auth/register", json={"username": name, "email": f"{name}@example.com",
                                                          "password": 12345678901})  # wrong type, still not echoed
        assert (await call("POST", "/api/v2/auth/register", json={
            "username": name, "email": f"{name}@example.com", "password": password})).status_code == 201
        await call("POST", "/api/v2/auth/register", json={"username": name, "email": f"{name}@example.com",
                                                          "password": password, "passwd": password})

        login = (await call("POST", "/api/v2/auth/login", json={"username": name, "password": password})).json()
        first = login["data"]
        secrets |= {first["accessToken"], first["refreshToken"]}
        second = (await call("POST", "/api/v2/auth/refresh", json={"refreshToken": first["refreshToken"]})).json()
        secrets |= {second["data"]["accessToken"], second["data"]["refreshToken"]}
        assert (await call("POST", "/api/v2/auth/refresh",
                           json={"refreshToken": first["refreshToken"]})).status_code == 401  # reuse

        v1 = (await call("POST", "/api/auth/token", json={"username": name, "password": password})).json()
        secrets |= {v1["token"], v1["refresh_token"]}
        created = await call("POST", "/api/v2/auth/keys", json={"name": "safe-logs"}, headers=bearer(v1["token"]))
        key = created.json()["data"]["key"]
        secrets.add(key)
        created_v1 = await call("POST", "/api/auth/keys", json={"name": "safe-logs-v1"}, headers=bearer(key))
        secrets.add(created_v1.json()["key"])
        assert (await call("GET", "/api/v2/runs", headers=bearer(key))).status_code == 200

        # Failures: a wrong password, a password typed as the username, unknown keys and tokens.
        assert (await call("POST", "/api/v2/auth/login",
                           json={"username": name, "password": typo_password})).status_code == 401
        assert (await call("POST", "/api/auth/token",
                           json={"username": password, "password": password})).status_code == 401
        assert (await call("POST", "/api/auth/token", json={"username": name})).status_code == 400
        forged_key = "sf_" + "A" * 43
        secrets.add(forged_key)
        await call("GET", "/api/v2/workflows", headers=bearer(forged_key))
        await call("GET", "/api/v2/workflows", headers=bearer(first["accessToken"] + "x"))
        await call("POST", "/api/v2/auth/refresh", json={"refreshToken": v1["token"]})
        await call("POST", "/api/v2/auth/keys", json={"name": ""}, headers=bearer(key))
        assert (await call("POST", "/api/auth/logout", headers=bearer(v1["token"]))).status_code == 204
        assert (await call("GET", "/api/v2/runs", headers=bearer(v1["token"]))).status_code == 401

    logged = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''} {getattr(record, 'stack_info', '') or ''}"
        for record in caplog.records
    )
    assert "login failed" in logged and "reused" in logged and "API key" in logged, "auth logging is not captured"
    assert len(errors) >= 10
    for secret in secrets:
        # Tokens share their header; check the parts that are unique to each secret.
        probe = secret.rsplit(".", 1)[-1] if secret.count(".") == 2 else secret
        assert probe not in logged, f"a secret reached the log: {probe[:6]}…"
        for response in errors:
            assert probe not in response.text, f"a secret is in a {response.status_code} body: {response.text}"
