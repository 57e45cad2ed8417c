"""OAuth 2.0 authorization code + PKCE against the real app, through httpx: a browser (its own client, with a
cookie jar) follows the consent page's form the way a browser would, and the OAuth client's back end (another
client) talks to the token endpoint. Each browser and back end comes from its own address, because the auth
endpoints have a per-IP budget."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from core.auth import oauth
from core.auth.users import UserInfo
from tests.support import PASSWORD, bearer, client_for, new_user, token_for

AUTHORIZE = "/api/auth/oauth/authorize"
TOKEN = "/api/auth/oauth/token"
CLIENTS = "/api/auth/oauth/clients"
REDIRECT = "https://app.example.com/oauth/callback"
LOOPBACK_REDIRECT = "http://127.0.0.1:8765/callback"


# -- A browser, a PKCE pair, a registered client ---------------------------------------------------------------

@dataclass
class Form:
    action: str = ""
    method: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, list[str]] = field(default_factory=dict)


class FormParser(HTMLParser):
    """The first form of a page: its action, hidden and text fields, and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.form: Form | None = None
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.form is None:
            self.form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
        elif self.form is not None and not self._done:
            if tag == "input" and "name" in a:
                self.form.fields[a["name"]] = a.get("value", "")
            elif tag == "button" and a.get("type") == "submit" and "name" in a:
                self.form.buttons.setdefault(a["name"], []).append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._done = True


def parse_form(html: str) -> Form:
    parser = FormParser()
    parser.feed(html)
    assert parser.form is not None, html
    return parser.form


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Client:
    client_id: str
    secret: str | None
    redirect_uri: str


async def register(api: httpx.AsyncClient, *, type: str = "public", scopes: tuple[str, ...] = ("read", "write"),
                   name: str = "Release dashboard", redirect_uri: str = REDIRECT) -> Client:
    response = await api.post(CLIENTS, json={"name": name, "redirect_uris": [redirect_uri], "scopes": list(scopes),
                                             "type": type})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["type"] == type and body["scopes"] == list(scopes)
    assert ("client_secret" in body) == (type == "confidential")
    return Client(body["client_id"], body.get("client_secret"), redirect_uri)


def authorize_params(client: Client, challenge: str | None, *, scope: str = "read write", state: str = "xyz-123",
                     **overrides: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": client.redirect_uri,
              "scope": scope, "state": state}
    if challenge is not None:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return {**params, **overrides}


async def open_consent(browser: httpx.AsyncClient, params: dict[str, str]) -> tuple[httpx.Response, Form]:
    page = await browser.get(AUTHORIZE, params=params)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    return page, parse_form(page.text)


async def submit(browser: httpx.AsyncClient, page: httpx.Response, form: Form, decision: str = "approve",
                 username: str = "", password: str = "") -> httpx.Response:
    """Fill in and submit the form as a browser would: to its action, resolved against the page's URL."""
    assert form.method == "post" and decision in form.buttons["decision"]
    data = {**form.fields, "username": username, "password": password, "decision": decision}
    return await browser.post(urljoin(str(page.url), form.action), data=data)


def redirected_to(response: httpx.Response, redirect_uri: str) -> dict[str, str]:
    assert response.status_code in (302, 303), f"{response.status_code} {response.text}"
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def get_code(app: FastAPI, client: Client, user: UserInfo, *, scope: str = "read write",
                   challenge: str | None = None) -> str:
    async with client_for(app) as browser:
        page, form = await open_consent(browser, authorize_params(client, challenge, scope=scope))
        answer = await submit(browser, page, form, username=user.username, password=PASSWORD)
    assert answer.status_code == 303
    query = redirected_to(answer, client.redirect_uri)
    assert query["state"] == "xyz-123"
    return query["code"]


async def exchange(backend: httpx.AsyncClient, client: Client, code: str, verifier: str | None, *,
                   auth: str = "post", redirect_uri: str | None = None) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri or client.redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    kwargs: dict = {}
    if client.secret is not None and auth == "basic":
        kwargs["auth"] = (client.client_id, client.secret)
    else:
        data["client_id"] = client.client_id
        if client.secret is not None and auth == "post":
            data["client_secret"] = client.secret
    return await backend.post(TOKEN, data=data, **kwargs)


async def tokens_for(app: FastAPI, client: Client, user: UserInfo, *, scope: str = "read write") -> dict:
    verifier, challenge = pkce()
    code = await get_code(app, client, user, scope=scope, challenge=challenge)
    async with client_for(app) as backend:
        response = await exchange(backend, client, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert set(body) <= {"error", "error_description", "error_uri", "state"}
    assert response.headers["cache-control"] == "no-store"


# -- The flow -------------------------------------------------------------------------------------------------

async def test_public_client_full_code_flow_with_pkce(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api, type="public", redirect_uri=LOOPBACK_REDIRECT)
    user = new_user("developer")
    verifier, challenge = pkce()
    async with client_for(app) as browser:
        page, form = await open_consent(browser, authorize_params(client, challenge))
        assert "Release dashboard" in page.text and "<strong>read</strong>" in page.text
        assert "<strong>write</strong>" in page.text and "http://127.0.0.1:8765" in page.text
        assert set(form.fields) == {"transaction", "username", "password"} and form.fields["transaction"]
        assert form.buttons == {"decision": ["approve", "deny"]}
        answer = await submit(browser, page, form, username=user.username, password=PASSWORD)
    assert answer.status_code == 303  # never 307: the password must not be re-posted to the client
    query = redirected_to(answer, LOOPBACK_REDIRECT)
    assert set(query) == {"code", "state"} and query["state"] == "xyz-123"

    async with client_for(app) as backend:
        response = await exchange(backend, client, query["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "read write"

    async with client_for(app, body["access_token"]) as holder:
        assert (await holder.get("/api/v2/workflows")).status_code == 200
        me = (await holder.get("/api/v2/auth/me")).json()["data"]
        assert me["id"] == user.id and me["authMethod"] == "oauth"
        assert set(me["permissions"]) == set(user.permissions)  # write: all the developer has, and no more
        created = await holder.post("/api/v2/workflows", json={})
        assert created.status_code == 400, created.text  # allowed in (write scope), refused only for the body


async def test_confidential_client_authenticates_with_basic_or_post(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api, type="confidential", scopes=("read",))
    assert client.secret and client.secret.startswith("sfcs_")
    user = new_user("viewer")
    async with client_for(app) as backend:
        for auth in ("basic", "post"):
            verifier, challenge = pkce()
            code = await get_code(app, client, user, scope="read", challenge=challenge)
            response = await exchange(backend, client, code, verifier, auth=auth)
            assert response.status_code == 200, (auth, response.text)
            assert response.json()["scope"] == "read"
            access = bearer(response.json()["access_token"])
            assert (await backend.get("/api/v2/runs", headers=access)).status_code == 200

        # PKCE is required for a confidential client too (its secret authenticates the client; only PKCE binds the
        # code to the party that asked for it) — and so is the secret.
        async with client_for(app) as browser:
            refused = await browser.get(AUTHORIZE, params=authorize_params(client, None, scope="read"))
        query = redirected_to(refused, client.redirect_uri)
        assert query["error"] == "invalid_request" and "code" not in query and "PKCE" in query["error_description"]
        verifier, challenge = pkce()
        code = await get_code(app, client, user, scope="read", challenge=challenge)
        oauth_error(await exchange(backend, client, code, verifier, auth="none"), 401, "invalid_client")
        wrong = Client(client.client_id, "sfcs_" + "x" * 43, client.redirect_uri)
        oauth_error(await exchange(backend, wrong, code, verifier, auth="basic"), 401, "invalid_client")
        oauth_error(await exchange(backend, client, code, None, auth="basic"), 400, "invalid_request")
        oauth_error(await exchange(backend, client, code, pkce()[0], auth="basic"), 400, "invalid_grant")


async def test_a_read_token_cannot_write(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    user = new_user("developer")
    body = await tokens_for(app, client, user, scope="read")
    assert body["scope"] == "read"
    async with client_for(app, body["access_token"]) as holder:
        assert (await holder.get("/api/v2/workflows")).status_code == 200
        refused = await holder.post("/api/v2/workflows", json={})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "FORBIDDEN"
        assert "scope" in refused.json()["error"]["message"]
        me = (await holder.get("/api/v2/auth/me")).json()["data"]
        assert me["permissions"] and all(p.endswith(":read") for p in me["permissions"])
        # Credentials that would outlive the grant are out of reach of any OAuth token.
        assert (await holder.post("/api/v2/auth/keys", json={"name": "escape"})).status_code == 403
        assert (await holder.post(CLIENTS, json={"name": "x", "redirect_uris": [REDIRECT]})).status_code == 403


async def test_a_write_token_never_exceeds_its_user(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    viewer = new_user("viewer")
    body = await tokens_for(app, client, viewer, scope="read write")
    async with client_for(app, body["access_token"]) as holder:
        assert (await holder.post("/api/v2/workflows", json={})).status_code == 403
        me = (await holder.get("/api/v2/auth/me")).json()["data"]
        assert set(me["permissions"]) == set(viewer.permissions)


# -- Codes ----------------------------------------------------------------------------------------------------

async def test_a_reused_code_is_refused_and_revokes_what_it_issued(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    verifier, challenge = pkce()
    code = await get_code(app, client, new_user("developer"), challenge=challenge)
    async with client_for(app) as backend:
        first = await exchange(backend, client, code, verifier)
        assert first.status_code == 200
        tokens = first.json()
        assert (await backend.get("/api/v2/runs", headers=bearer(tokens["access_token"]))).status_code == 200
        replay = await exchange(backend, client, code, verifier)
        oauth_error(replay, 400, "invalid_grant")
        assert (await backend.get("/api/v2/runs", headers=bearer(tokens["access_token"]))).status_code == 401
        refresh = await backend.post(TOKEN, data={"grant_type": "refresh_token", "client_id": client.client_id,
                                                  "refresh_token": tokens["refresh_token"]})
        oauth_error(refresh, 400, "invalid_grant")


async def test_a_wrong_code_verifier_is_refused(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    verifier, challenge = pkce()
    code = await get_code(app, client, new_user("developer"), challenge=challenge)
    async with client_for(app) as backend:
        oauth_error(await exchange(backend, client, code, pkce()[0]), 400, "invalid_grant")
        oauth_error(await exchange(backend, client, code, None), 400, "invalid_request")  # public: verifier needed
        # A code is bound to its client and redirect URI too.
        other = await register(api)
        oauth_error(await exchange(backend, Client(other.client_id, None, REDIRECT), code, verifier), 400,
                    "invalid_grant")
        oauth_error(await exchange(backend, client, code, verifier, redirect_uri=REDIRECT + "/other"), 400,
                    "invalid_grant")
        assert (await exchange(backend, client, code, verifier)).status_code == 200


async def test_an_expired_code_is_refused(app: FastAPI, api: httpx.AsyncClient,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert oauth.CODE_TTL_S <= 60
    client = await register(api)
    verifier, challenge = pkce()
    monkeypatch.setattr(oauth, "CODE_TTL_S", -1)  # issued already expired
    code = await get_code(app, client, new_user("developer"), challenge=challenge)
    async with client_for(app) as backend:
        response = await exchange(backend, client, code, verifier)
    oauth_error(response, 400, "invalid_grant")
    assert "expired" in response.json()["error_description"]


# -- The authorize endpoint -----------------------------------------------------------------------------------

@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/cb",
    REDIRECT + "/more",  # no prefix matching
    REDIRECT + "?next=https://evil.example",  # no extra query
    REDIRECT.upper(),
    None,  # missing: never guessed
])
async def test_a_wrong_redirect_uri_gets_an_error_page_never_a_redirect(app: FastAPI, api: httpx.AsyncClient,
                                                                        redirect_uri: str | None) -> None:
    client = await register(api)
    params = authorize_params(client, pkce()[1])
    if redirect_uri is None:
        del params["redirect_uri"]
    else:
        params["redirect_uri"] = redirect_uri
    async with client_for(app) as browser:
        page = await browser.get(AUTHORIZE, params=params)
    assert page.status_code == 400 and "location" not in page.headers
    assert page.headers["content-type"].startswith("text/html")
    assert "redirect_uri" in page.text and "<form" not in page.text


async def test_an_unknown_client_gets_an_error_page(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    async with client_for(app) as browser:
        for client_id in ("sfc_doesnotexist", ""):
            page = await browser.get(AUTHORIZE, params=authorize_params(client, pkce()[1], client_id=client_id))
            assert page.status_code == 400 and "location" not in page.headers
            assert "Unknown client" in page.text
        page = await browser.get(AUTHORIZE)
        assert page.status_code == 400 and "location" not in page.headers


async def test_denied_consent_redirects_with_access_denied(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    async with client_for(app) as browser:
        page, form = await open_consent(browser, authorize_params(client, pkce()[1], state="s t&ate"))
        answer = await submit(browser, page, form, decision="deny")
    assert answer.status_code == 303
    query = redirected_to(answer, REDIRECT)
    assert query["error"] == "access_denied" and query["state"] == "s t&ate" and "code" not in query


async def test_invalid_requests_go_back_to_a_genuine_client(app: FastAPI, api: httpx.AsyncClient) -> None:
    """Once client and redirect URI check out, errors are redirected to the client (RFC 6749 §4.1.2.1)."""
    public = await register(api, scopes=("read",))
    async with client_for(app) as browser:
        cases = [
            (authorize_params(public, None, scope="read"), "invalid_request"),  # every client needs PKCE
            (authorize_params(public, pkce()[1], scope="read", code_challenge_method="plain"), "invalid_request"),
            (authorize_params(public, pkce()[1], scope="read write"), "invalid_scope"),  # not registered for write
            (authorize_params(public, pkce()[1], scope="admin"), "invalid_scope"),
            (authorize_params(public, pkce()[1], response_type="token"), "unsupported_response_type"),
        ]
        for params, error in cases:
            response = await browser.get(AUTHORIZE, params=params)
            query = redirected_to(response, REDIRECT)
            assert query["error"] == error and query["state"] == "xyz-123" and "code" not in query, (params, query)


async def test_the_consent_form_is_bound_to_the_browser_and_single_use(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    user = new_user("developer")
    async with client_for(app) as browser, client_for(app) as other_browser:
        page, form = await open_consent(browser, authorize_params(client, pkce()[1]))
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/api/auth/oauth/authorize" in cookie

        # Another browser (no cookie of this one) cannot answer this transaction.
        forged = await submit(other_browser, page, form, username=user.username, password=PASSWORD)
        assert forged.status_code == 400 and "location" not in forged.headers

        # A wrong password shows the form again, without the password.
        wrong = await submit(browser, page, form, username=user.username, password="Wr0ng-password!")
        assert wrong.status_code == 401 and "location" not in wrong.headers
        assert "Invalid username or password" in wrong.text and "Wr0ng-password!" not in wrong.text
        assert parse_form(wrong.text).fields["username"] == user.username

        answer = await submit(browser, page, form, username=user.username, password=PASSWORD)
        assert answer.status_code == 303
        replay = await submit(browser, page, form, username=user.username, password=PASSWORD)
        assert replay.status_code == 400 and "location" not in replay.headers

        # Not a form at all.
        assert (await browser.post(AUTHORIZE, json=form.fields)).status_code == 400


async def test_the_consent_page_escapes_what_it_shows(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api, name='<script>alert("x")</script>')
    async with client_for(app) as browser:
        page, _ = await open_consent(browser, authorize_params(client, pkce()[1]))
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


async def test_too_many_wrong_passwords_end_the_transaction(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    user = new_user("developer")
    async with client_for(app) as browser:
        page, form = await open_consent(browser, authorize_params(client, pkce()[1]))
        for _ in range(oauth.MAX_SIGN_IN_ATTEMPTS - 1):
            assert (await submit(browser, page, form, username=user.username, password="x")).status_code == 401
        assert (await submit(browser, page, form, username=user.username, password="x")).status_code == 400
        assert (await submit(browser, page, form, username=user.username, password=PASSWORD)).status_code == 400


# -- Refresh --------------------------------------------------------------------------------------------------

async def test_refresh_tokens_rotate_and_a_replay_revokes_the_session(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api, type="confidential")
    first = await tokens_for(app, client, new_user("developer"))
    async with client_for(app) as backend:
        def refresh(token: str, **extra: str) -> dict[str, str]:
            return {"grant_type": "refresh_token", "refresh_token": token, **extra}

        # Only its own client, authenticated, may refresh.
        oauth_error(await backend.post(TOKEN, data=refresh(first["refresh_token"], client_id=client.client_id)),
                    401, "invalid_client")
        other = await register(api, type="confidential")
        oauth_error(await backend.post(TOKEN, data=refresh(first["refresh_token"]),
                                       auth=(other.client_id, other.secret or "")), 400, "invalid_grant")
        # Nor can the login endpoints swap it for an unscoped pair.
        assert (await backend.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
                ).status_code == 401

        second = await backend.post(TOKEN, data=refresh(first["refresh_token"], scope="read"),
                                    auth=(client.client_id, client.secret or ""))
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"] and rotated["scope"] == "read"
        read_only = bearer(rotated["access_token"])
        assert (await backend.get("/api/v2/workflows", headers=read_only)).status_code == 200
        assert (await backend.post("/api/v2/workflows", json={}, headers=read_only)).status_code == 403

        replay = await backend.post(TOKEN, data=refresh(first["refresh_token"]),
                                    auth=(client.client_id, client.secret or ""))
        oauth_error(replay, 400, "invalid_grant")
        assert (await backend.get("/api/v2/workflows", headers=read_only)).status_code == 401
        again = await backend.post(TOKEN, data=refresh(rotated["refresh_token"]),
                                   auth=(client.client_id, client.secret or ""))
        oauth_error(again, 400, "invalid_grant")


async def test_token_endpoint_errors_are_oauth_errors(app: FastAPI, api: httpx.AsyncClient) -> None:
    client = await register(api)
    async with client_for(app) as backend:
        oauth_error(await backend.post(TOKEN, data={"grant_type": "password", "client_id": client.client_id}), 400,
                    "unsupported_grant_type")
        oauth_error(await backend.post(TOKEN, json={"grant_type": "authorization_code"}), 400, "invalid_request")
        oauth_error(await backend.post(TOKEN, data={"grant_type": "authorization_code", "client_id": client.client_id,
                                                    "code": "nope", "code_verifier": pkce()[0],
                                                    "redirect_uri": REDIRECT}), 400, "invalid_grant")
        oauth_error(await backend.post(TOKEN, content=f"grant_type=refresh_token&grant_type=refresh_token&client_id="
                                       f"{client.client_id}", headers={"content-type": oauth_form()}), 400,
                    "invalid_request")
        oauth_error(await backend.post(TOKEN, data={"grant_type": "refresh_token", "client_id": "sfc_unknown",
                                                    "refresh_token": "x"}), 400, "invalid_client")


def oauth_form() -> str:
    return "application/x-www-form-urlencoded"


# -- Clients --------------------------------------------------------------------------------------------------

async def test_client_registration(app: FastAPI, api: httpx.AsyncClient) -> None:
    developer = new_user("developer")
    async with client_for(app, token_for(user=developer)) as dev, client_for(app, token_for("viewer")) as viewer:
        for bad in (["http://app.example.com/cb"], ["https://app.example.com/cb#frag"], ["/relative"],
                    ["https://user:pw@app.example.com/cb"], ["ftp://app.example.com"], []):
            response = await dev.post(CLIENTS, json={"name": "x", "redirect_uris": bad})
            assert response.status_code == 400, (bad, response.text)
        assert (await dev.post(CLIENTS, json={"name": "x", "redirect_uris": [REDIRECT], "scopes": ["admin"]})
                ).status_code == 400

        client = await register(dev, type="confidential", scopes=("read",))
        listed = (await dev.get(CLIENTS)).json()
        assert [c["client_id"] for c in listed["clients"]] == [client.client_id]
        assert "client_secret" not in listed["clients"][0] and client.secret not in str(listed)
        assert (await dev.get(f"{CLIENTS}/{client.client_id}")).json()["scopes"] == ["read"]
        # Someone else's client does not exist for them.
        assert (await viewer.get(f"{CLIENTS}/{client.client_id}")).status_code == 404
        assert (await viewer.delete(f"{CLIENTS}/{client.client_id}")).status_code == 404

        tokens = await tokens_for(app, client, new_user("viewer"), scope="read")
        assert (await dev.delete(f"{CLIENTS}/{client.client_id}")).status_code == 204
        # Deleting a client revokes its tokens, and it can no longer ask for consent.
        assert (await dev.get("/api/v2/runs", headers=bearer(tokens["access_token"]))).status_code == 401
        async with client_for(app) as browser:
            page = await browser.get(AUTHORIZE, params=authorize_params(client, None, scope="read"))
        assert page.status_code == 400 and "Unknown client" in page.text


async def test_no_oauth_secret_reaches_the_log(app: FastAPI, api: httpx.AsyncClient,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = await register(api, type="confidential")
    user = new_user("developer")
    verifier, challenge = pkce()
    code = await get_code(app, client, user, challenge=challenge)
    async with client_for(app) as backend:
        tokens = (await exchange(backend, client, code, verifier, auth="basic")).json()
        rotated = (await backend.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens[
            "refresh_token"]}, auth=(client.client_id, client.secret or ""))).json()
        await exchange(backend, client, code, verifier, auth="basic")  # a replay, logged as such
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "OAuth tokens issued" in logged and "replayed" in logged
    for secret in (client.secret or "", code, verifier, PASSWORD, tokens["access_token"], tokens["refresh_token"],
                   rotated["access_token"], rotated["refresh_token"]):
        probe = secret.rsplit(".", 1)[-1]
        assert probe and probe not in logged, f"a secret reached the log: {probe[:6]}…"


def test_oauth_needs_an_api_published_over_https() -> None:
    """authlib's transport check runs against the published URL: https, or http on a loopback address."""
    from core.settings import get_settings

    settings = get_settings().model_copy(update={"public_url": "http://api.example.com"})
    page = oauth.authorize(settings, oauth.HttpRequest("GET", AUTHORIZE, [("client_id", "x")]), "browser")
    assert isinstance(page, oauth.ErrorPage) and page.error == "insecure_transport"
    token = oauth.token(settings, oauth.HttpRequest("POST", TOKEN, [("grant_type", "refresh_token")]))
    assert token.status == 400 and token.body["error"] == "insecure_transport"
