"""OAuth 2.0 authorization-code flow with PKCE (RFC 6749, RFC 7636), on authlib's framework-agnostic
`AuthorizationServer`. This module is the thin adapter between authlib and StellarFlow:

* `HttpRequest` → authlib's `OAuth2Request` (`_Request`/`_Payload`), authlib's responses → `OAuthResponse`;
  the API routes (`api/common/oauth.py`) turn those into HTTP and render the HTML pages.
* authlib does the protocol: parameter and client validation, client authentication at the token endpoint
  (`client_secret_basic`, `client_secret_post`, `none`), redirect and error responses, scope checks, PKCE
  verification (`rfc7636.CodeChallenge`, restricted here to S256 and required for every client,
  confidential ones too) and refresh
  token scope narrowing. This module supplies storage and StellarFlow's sessions.
* Tokens are ordinary StellarFlow sessions (`core/auth/sessions.py`): a JWT access token and a rotating refresh
  token, whose session row has an `oauth_grants` row naming the client and scope. `require()` narrows the user's
  permissions by that scope on every request (`read` → `*:read`, `write` → all the user has).

Flow: `authorize()` (GET) validates the request — an unknown client or a redirect URI that is not registered
exactly gets an error page and is never redirected to — and opens a consent transaction: a random id (only its
hash stored) carried by the form, bound to the browser by a cookie, single use, 10 minutes. `decide()` (POST)
checks the user's password (`sessions.check_password`) and redirects back with a code (or `access_denied`).
Codes are random, stored as an HMAC, single use, valid 60 s and bound to client, redirect URI, user, scope and
code challenge; presenting a used code again revokes the session issued for it. `token()` is the token endpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Payload,
    OAuth2Request,
    TokenMixin,
    UnsupportedResponseTypeError,
    grants,
)
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import delete, update
from sqlmodel import col

from core.auth import oauth_clients, sessions, tokens
from core.auth.identity import aware
from core.auth.oauth_clients import ClientInfo, OAuthClient, normalise_scope
from core.auth.permissions import SCOPES
from core.auth.secret import derived_key
from core.auth.tables import OAuthCodeRow, OAuthConsentRow, OAuthGrantRow, UserRow
from core.auth.users import UserInfo, info
from core.db import session_scope, utcnow
from core.errors import Unauthorized
from core.settings import Settings

AUTHORIZE_PATH = "/api/auth/oauth/authorize"
TOKEN_PATH = "/api/auth/oauth/token"
CODE_TTL_S = 60  # RFC 6749 §4.1.2: "shortly after"; 60 s is plenty for a client's back channel
CONSENT_TTL_S = 600
MAX_SIGN_IN_ATTEMPTS = 5  # per consent transaction (the auth rate limit applies on top)
KEEP_USED_S = 24 * 3600  # used codes and answered consents are kept this long, for replay detection
AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                    "code_challenge_method")
TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
EXPIRED_TRANSACTION = ("This authorization request has expired or was already answered. "
                       "Start again from the application.")
log = logging.getLogger("stellarflow.auth")


# -- The adapter: requests in, responses out ------------------------------------------------------------------

@dataclass(frozen=True)
class HttpRequest:
    """What the adapter needs of an HTTP request. `params` are the OAuth parameters: the query of
    `GET /authorize`, the form body of `POST /token`."""

    method: str
    path: str
    params: list[tuple[str, str]]
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive in practice (Starlette's)


@dataclass
class OAuthResponse:
    """authlib's `(status, body, headers)`: a JSON body (token endpoint) or a redirect (authorize endpoint)."""

    status: int
    body: dict[str, Any] | str
    headers: list[tuple[str, str]]

    @property
    def location(self) -> str | None:
        return next((value for name, value in self.headers if name.lower() == "location"), None)

    def __repr__(self) -> str:  # a body may hold tokens, a Location a code
        return f"OAuthResponse(status={self.status})"


@dataclass
class Consent:
    """Render the consent page: what the client asks for, and the form's transaction id."""

    transaction: str
    client: ClientInfo
    owner: str  # username of who registered the client
    scopes: list[str]
    redirect_uri: str
    status: int = 200
    error: str | None = None
    username: str = ""

    def __repr__(self) -> str:
        return f"Consent(client={self.client.client_id!r}, scopes={self.scopes!r})"


@dataclass
class ErrorPage:
    """Render an error page: the request cannot be answered by redirecting (unknown client, unregistered
    redirect URI, a stale form)."""

    status: int
    error: str
    description: str


class _Payload(OAuth2Payload):
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list] = defaultdict(list)
        for name, value in pairs:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list]:
        return self._datalist


class _Request(OAuth2Request):
    def __init__(self, base_url: str, http: HttpRequest) -> None:
        # The URI authlib checks for transport security is the one the API is published at (a TLS-terminating
        # proxy makes every request look like http here): https, or http on a loopback address.
        super().__init__(http.method, base_url.rstrip("/") + http.path, headers=http.headers)
        self.payload = _Payload(http.params)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class AuthorizationServer(_AuthorizationServer):
    """authlib's server, wired to StellarFlow's clients, codes and sessions."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.settings = settings
        self.register_grant(AuthorizationCodeGrant, [PKCE(required=True)])
        self.register_grant(RefreshTokenGrant)

    def query_client(self, client_id: str) -> OAuthClient | None:
        row = oauth_clients.find(client_id)
        return OAuthClient(row, self.settings) if row is not None else None

    def save_token(self, token: dict, request: OAuth2Request) -> None:
        """Nothing to do: the grants write the session when they mint the tokens."""

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request if isinstance(request, OAuth2Request) else _Request(self.settings.api_url, request)

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints")

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResponse:
        return OAuthResponse(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


# -- PKCE, codes and tokens -----------------------------------------------------------------------------------

class PKCE(CodeChallenge):
    """authlib's RFC 7636 extension, S256 only (`plain` protects nothing), and required for every client: a
    confidential client's secret authenticates the client, but only PKCE binds the code to the one that asked
    for it (an intercepted or injected code is useless without the verifier; OAuth 2.1, RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if not challenge:
            raise InvalidRequestError("PKCE is required for every client: send code_challenge with "
                                      "code_challenge_method=S256")
        if method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")

    def validate_code_verifier(self, grant: grants.AuthorizationCodeGrant, result: Any) -> None:
        request = grant.request
        if not request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier': PKCE is required for every client")
        if not self.get_authorization_code_challenge(request.authorization_code):
            # A code issued without a challenge (before PKCE was required) cannot be redeemed any more.
            raise InvalidGrantError(description="The code was issued without PKCE; start the flow again")
        super().validate_code_verifier(grant, result)


class AuthorizationCode(AuthorizationCodeMixin):
    def __init__(self, row: OAuthCodeRow) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def __repr__(self) -> str:
        return f"AuthorizationCode(client={self.row.client_id!r})"

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


class _TokenBody(dict):
    """The token response; authlib logs it at DEBUG, so its repr names nothing secret."""

    def __repr__(self) -> str:
        return "<OAuth token response>"

    __str__ = __repr__


def _token_body(pair: sessions.TokenPair, scope: str) -> _TokenBody:
    return _TokenBody(access_token=pair.access_token, token_type="Bearer", expires_in=pair.expires_in,
                      refresh_token=pair.refresh_token, scope=scope)


def _hash(settings: Settings, purpose: str, value: str) -> str:
    return hmac.new(derived_key(settings, purpose), value.encode(), hashlib.sha256).hexdigest()


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS

    @property
    def settings(self) -> Settings:
        return self.server.settings

    def generate_authorization_code(self) -> str:
        return secrets.token_urlsafe(32)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        now = utcnow()
        with session_scope() as session:
            stale = now - timedelta(seconds=KEEP_USED_S)
            session.exec(delete(OAuthCodeRow).where(col(OAuthCodeRow.expires_at) < stale))
            session.add(OAuthCodeRow(
                code_hash=_hash(self.settings, "oauth-codes", code), client_id=request.client.get_client_id(),
                user_id=request.user.id, redirect_uri=request.payload.redirect_uri, scope=request.scope,
                code_challenge=data.get("code_challenge"), code_challenge_method=data.get("code_challenge_method"),
                expires_at=now + timedelta(seconds=CODE_TTL_S)))
        log.info("OAuth code issued to client %s for user %s (scope %s)", request.client.get_client_id(),
                 request.user.id, request.scope)

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        if not code or len(code) > 256:
            return None
        with session_scope() as session:
            row = session.get(OAuthCodeRow, _hash(self.settings, "oauth-codes", code))
        if row is None or row.client_id != client.get_client_id():
            return None
        if row.used_at is not None:
            _replayed(row)
            raise InvalidGrantError("Authorization code already used; the tokens issued for it are revoked")
        if aware(row.expires_at) <= utcnow():
            raise InvalidGrantError("Authorization code expired")
        return AuthorizationCode(row)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> UserInfo | None:
        return _active_user(authorization_code.row.user_id)

    def generate_token(self, user: UserInfo | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> _TokenBody:
        """Spends the code (atomically: of two concurrent exchanges one wins, the other is a replay) and opens the
        session the tokens belong to."""
        assert user is not None and scope is not None
        code: OAuthCodeRow = self.request.authorization_code.row
        client_id = self.request.client.get_client_id()
        with session_scope() as session:
            claimed = session.exec(update(OAuthCodeRow)
                                   .where(col(OAuthCodeRow.code_hash) == code.code_hash,
                                          col(OAuthCodeRow.used_at).is_(None))
                                   .values(used_at=utcnow())).rowcount
        if claimed != 1:
            _replayed(code)
            raise InvalidGrantError("Authorization code already used; the tokens issued for it are revoked")
        pair = sessions.start_session(self.settings, user, oauth_grant=OAuthGrantRow(
            client_id=client_id, user_id=user.id, scope=scope, session_id=""))
        with session_scope() as session:
            session.exec(update(OAuthCodeRow).where(col(OAuthCodeRow.code_hash) == code.code_hash)
                         .values(session_id=pair.session_id))
            replayed_meanwhile = session.get(OAuthCodeRow, code.code_hash).reused_at is not None
        if replayed_meanwhile:
            sessions.logout(pair.session_id, reason="authorization code reused")
            raise InvalidGrantError("Authorization code already used; the tokens issued for it are revoked")
        log.info("OAuth tokens issued to client %s: session %s (scope %s)", client_id, pair.session_id, scope)
        return _token_body(pair, scope)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Kept, marked used, until it is a day old: a replay must still find it (and revoke its session)."""


def _replayed(code: OAuthCodeRow) -> None:
    """RFC 6749 §4.1.2: a code used twice is refused, and the tokens issued for it are revoked."""
    with session_scope() as session:
        session.exec(update(OAuthCodeRow).where(col(OAuthCodeRow.code_hash) == code.code_hash)
                     .values(reused_at=utcnow()))
        session_id = session.get(OAuthCodeRow, code.code_hash).session_id
    if session_id:
        sessions.logout(session_id, reason="authorization code reused")
    log.warning("OAuth authorization code of client %s replayed; session %s revoked", code.client_id, session_id)


def _active_user(user_id: str) -> UserInfo | None:
    with session_scope() as session:
        row = session.get(UserRow, user_id)
        return info(row) if row is not None and not row.disabled else None


class RefreshCredential(TokenMixin):
    def __init__(self, token: str, grant: OAuthGrantRow) -> None:
        self.token = token
        self.grant = grant

    def __repr__(self) -> str:
        return f"RefreshCredential(session={self.grant.session_id!r})"

    def check_client(self, client: OAuthClient) -> bool:
        return self.grant.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.grant.scope


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Rotation as for login sessions: each refresh token works once, a replay revokes the session."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential | None:
        if len(refresh_token) > 4096:
            return None
        try:
            claims = tokens.decode(self.server.settings, refresh_token, tokens.REFRESH)
        except Unauthorized:
            return None
        with session_scope() as session:
            grant = session.get(OAuthGrantRow, claims.sid)
        return RefreshCredential(refresh_token, grant) if grant is not None else None

    def authenticate_user(self, refresh_token: RefreshCredential) -> UserInfo | None:
        return _active_user(refresh_token.grant.user_id)

    def issue_token(self, user: UserInfo, refresh_token: RefreshCredential) -> _TokenBody:
        grant = refresh_token.grant
        requested = self.request.payload.scope
        scope = normalise_scope(requested.split()) if requested else grant.scope  # authlib checked it is a subset
        try:
            pair = sessions.refresh(self.server.settings, refresh_token.token, client_id=grant.client_id)
        except Unauthorized as err:
            raise InvalidGrantError(err.message) from None
        if scope != grant.scope:
            with session_scope() as session:
                session.exec(update(OAuthGrantRow).where(col(OAuthGrantRow.session_id) == grant.session_id)
                             .values(scope=scope))
        return _token_body(pair, scope)

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        """Nothing to do: the rotation in `sessions.refresh` spent it."""


# -- The endpoints ---------------------------------------------------------------------------------------------

class _Refused(Exception):
    def __init__(self, page: ErrorPage) -> None:
        self.page = page


def _error(server: AuthorizationServer, request: OAuth2Request | None, error: OAuth2Error) -> OAuthResponse | ErrorPage:
    """Redirect with the error once the client and its redirect URI are known to be genuine; else a page."""
    if error.redirect_uri:
        return server.handle_error_response(request, error)
    return ErrorPage(400, error.error or "invalid_request",
                     error.get_error_description() or "The authorization request is invalid.")


def _check_client(server: AuthorizationServer, request: OAuth2Request) -> OAuthClient:
    """Before authlib sees the request: the client exists and the redirect URI is one of its own, exactly.
    Anything else is answered with a page, never a redirect (no open redirector)."""
    data = request.payload.data
    client = server.query_client(data.get("client_id", ""))
    if client is None:
        raise _Refused(ErrorPage(400, "invalid_client", "Unknown client. Check the client_id the application "
                                 "sent; it may have been deleted."))
    redirect_uri = data.get("redirect_uri")
    if not redirect_uri or not client.check_redirect_uri(redirect_uri):
        raise _Refused(ErrorPage(400, "invalid_request", "The redirect_uri is missing or is not registered for "
                                 "this client (it must match exactly)."))
    if data.get("response_type") != "code":
        raise UnsupportedResponseTypeError("code", redirect_uri=redirect_uri, state=data.get("state"))
    return client


def new_browser_binding() -> str:
    """The value of the cookie that binds consent transactions to one browser."""
    return secrets.token_urlsafe(32)


def authorize(settings: Settings, http: HttpRequest, browser: str) -> Consent | OAuthResponse | ErrorPage:
    """`GET /authorize`: validate, then open a consent transaction bound to this browser (`browser` is the value
    of its cookie)."""
    server = AuthorizationServer(settings)
    request = None
    try:
        request = server.create_oauth2_request(http)
        _check_client(server, request)
        grant = server.get_consent_grant(request)
    except _Refused as refused:
        return refused.page
    except OAuth2Error as error:
        return _error(server, request, error)
    transaction = secrets.token_urlsafe(32)
    now = utcnow()
    params = {name: grant.request.payload.data[name] for name in AUTHORIZE_PARAMS if name in grant.request.payload.data}
    with session_scope() as session:
        session.exec(delete(OAuthConsentRow)
                     .where(col(OAuthConsentRow.expires_at) < now - timedelta(seconds=KEEP_USED_S)))
        session.add(OAuthConsentRow(id_hash=_hash(settings, "oauth-consent", transaction),
                                    browser_hash=_hash(settings, "oauth-browser", browser),
                                    client_id=grant.client.get_client_id(), params=params,
                                    expires_at=now + timedelta(seconds=CONSENT_TTL_S)))
    return _consent(grant, transaction)


def _consent(grant: grants.AuthorizationCodeGrant, transaction: str, **extra: Any) -> Consent:
    client: OAuthClient = grant.client
    owner = _active_user(client.row.owner_id)
    return Consent(transaction=transaction, client=oauth_clients.info(client.row),
                   owner=owner.username if owner else "(deleted user)", scopes=grant.request.scope.split(),
                   redirect_uri=grant.redirect_uri, **extra)


def decide(settings: Settings, form: Mapping[str, str], browser: str) -> Consent | OAuthResponse | ErrorPage:
    """`POST /authorize`, the consent form: `transaction`, `decision` (approve | deny), `username`, `password`.
    Approve → a redirect with `code` and `state`; deny → a redirect with `error=access_denied`."""
    transaction = form.get("transaction", "")
    id_hash = _hash(settings, "oauth-consent", transaction)
    with session_scope() as session:
        row = session.get(OAuthConsentRow, id_hash) if 0 < len(transaction) <= 100 else None
    if (row is None or row.used_at is not None or aware(row.expires_at) <= utcnow()
            or not hmac.compare_digest(row.browser_hash, _hash(settings, "oauth-browser", browser))):
        return ErrorPage(400, "invalid_request", EXPIRED_TRANSACTION)
    server = AuthorizationServer(settings)
    http = HttpRequest("GET", AUTHORIZE_PATH, list(row.params.items()))
    request = None
    try:  # again: the client may have been deleted, or its redirect URIs changed, since the page was shown
        request = server.create_oauth2_request(http)
        _check_client(server, request)
        grant = server.get_consent_grant(request)
    except _Refused as refused:
        _spend(id_hash)
        return refused.page
    except OAuth2Error as error:
        _spend(id_hash)
        return _error(server, request, error)
    decision = form.get("decision")
    if decision == "deny":
        if not _spend(id_hash):
            return ErrorPage(400, "invalid_request", EXPIRED_TRANSACTION)
        log.info("OAuth consent for client %s denied", grant.client.get_client_id())
        return _see_other(server.create_authorization_response(request, grant_user=None, grant=grant))
    if decision != "approve":
        return _consent(grant, transaction, status=400, error="Choose Approve or Deny.")
    username = form.get("username", "")
    try:
        user = sessions.check_password(username, form.get("password", ""))
    except Unauthorized:
        if _failed_attempt(id_hash) >= MAX_SIGN_IN_ATTEMPTS:
            _spend(id_hash)
            return ErrorPage(400, "access_denied", "Too many failed sign-ins. Start again from the application.")
        return _consent(grant, transaction, status=401, error=sessions.BAD_CREDENTIALS, username=username[:320])
    if not _spend(id_hash):
        return ErrorPage(400, "invalid_request", EXPIRED_TRANSACTION)
    log.info("OAuth consent: user %s approved client %s (scope %s)", user.id, grant.client.get_client_id(),
             grant.request.scope)
    return _see_other(server.create_authorization_response(request, grant_user=user, grant=grant))


def _see_other(response: OAuthResponse) -> OAuthResponse:
    """Answer the form POST with 303, so no user agent re-sends the password to the client (RFC 9700 §4.12)."""
    if response.status == 302:
        response.status = 303
    return response


def _spend(id_hash: str) -> bool:
    with session_scope() as session:
        return session.exec(update(OAuthConsentRow)
                            .where(col(OAuthConsentRow.id_hash) == id_hash, col(OAuthConsentRow.used_at).is_(None))
                            .values(used_at=utcnow())).rowcount == 1


def _failed_attempt(id_hash: str) -> int:
    with session_scope() as session:
        session.exec(update(OAuthConsentRow).where(col(OAuthConsentRow.id_hash) == id_hash)
                     .values(attempts=OAuthConsentRow.attempts + 1))
        return session.get(OAuthConsentRow, id_hash).attempts


def token(settings: Settings, http: HttpRequest) -> OAuthResponse:
    """`POST /token` (form-encoded): grant_type=authorization_code (with code_verifier) or refresh_token."""
    server = AuthorizationServer(settings)
    try:
        names = [name for name, _ in http.params]
        if len(names) != len(set(names)):  # RFC 6749 §3.2: parameters MUST NOT be included more than once
            raise InvalidRequestError("A parameter is repeated")
        basic = _basic_credentials(http.headers.get("authorization", ""))
        if basic is not None and "client_secret" in names:
            raise InvalidClientError(description="Use one client authentication method, not two")
        return server.create_token_response(http)
    except OAuth2Error as error:  # raised before authlib's own handling (e.g. insecure transport)
        return server.handle_error_response(None, error)


def _basic_credentials(header: str) -> str | None:
    """The decoded credentials of an HTTP Basic header (None without one). authlib decodes them too, but lets a
    non-UTF-8 value escape as an exception, so such a header is refused here first."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value.strip()).decode("utf-8")
    except binascii.Error:
        return ""  # authlib answers these itself (invalid_client)
    except UnicodeDecodeError:
        raise InvalidClientError(status_code=401, description="Malformed HTTP Basic credentials") from None
