"""OAuth 2.0 clients: registration, lookup, deletion, and the authlib `ClientMixin` view of a client row.

Any signed-in user may register clients; each client belongs to the user who registered it, who alone sees and
deletes it (an admin may delete anyone's). That is safe because a client can do nothing by itself: every grant
needs the consenting user's own password on the consent page, and never carries more than that user's
permissions. The consent page names the client's owner, so a look-alike client is visible as such.

A confidential client gets a secret (`sfcs_…`, shown once; only its HMAC-SHA256 is stored, as for API keys) and
authenticates at the token endpoint with `client_secret_basic` or `client_secret_post`. A public client (a
single-page or native app) has no secret (`none`) and must use PKCE with S256.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6749 import ClientMixin
from pydantic import BaseModel
from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import col, select

from core.auth.permissions import SCOPES
from core.auth.secret import derived_key
from core.auth.tables import AuthSessionRow, OAuthClientRow, OAuthGrantRow
from core.db import session_scope, utcnow
from core.errors import NotFound, ValidationFailed
from core.settings import Settings

CLIENT_ID_PREFIX = "sfc_"
SECRET_PREFIX = "sfcs_"
PUBLIC = "none"
CONFIDENTIAL = "client_secret_basic"  # the registered method; client_secret_post is accepted as well
CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post")
GRANT_TYPES = ("authorization_code", "refresh_token")
SCOPE_ORDER = tuple(SCOPES)  # "read", "write"
MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
log = logging.getLogger("stellarflow.auth")


class ClientInfo(BaseModel):
    client_id: str
    name: str
    type: Literal["confidential", "public"]
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    scopes: list[str]
    owner_id: str
    created_at: datetime


class NewClient(BaseModel):
    """The one moment a confidential client's secret exists outside its owner's hands."""

    info: ClientInfo
    client_secret: str | None

    def __repr__(self) -> str:
        return f"NewClient(info={self.info!r})"

    __str__ = __repr__


class OAuthClient(ClientMixin):
    """A client row as authlib's grants see it."""

    def __init__(self, row: OAuthClientRow, settings: Settings) -> None:
        self.row = row
        self._settings = settings

    def __repr__(self) -> str:  # authlib logs clients at DEBUG: id only
        return f"OAuthClient({self.row.id!r})"

    @property
    def is_public(self) -> bool:
        return self.row.token_endpoint_auth_method == PUBLIC

    @property
    def allowed_scopes(self) -> list[str]:
        return self.row.scopes.split()

    def get_client_id(self) -> str:
        return self.row.id

    def get_default_redirect_uri(self) -> str | None:
        return None  # the authorize request must name its redirect_uri (core/auth/oauth.py checks it first)

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant: the request's, if the client may ask for all of it (`read` when it asks for none);
        None (→ invalid_scope) when it asks for a scope it was not registered with."""
        requested = scope.split() if scope else ["read"]
        if not requested or any(s not in self.allowed_scopes for s in requested):
            return None
        return normalise_scope(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exact string match, no prefix or pattern

    def check_client_secret(self, client_secret: str) -> bool:
        if self.row.secret_hash is None or not client_secret:
            return False
        return hmac.compare_digest(_digest(self._settings, client_secret), self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return True
        return method == PUBLIC if self.is_public else method in CONFIDENTIAL_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


def normalise_scope(scopes: list[str]) -> str:
    return " ".join(s for s in SCOPE_ORDER if s in scopes)


def _digest(settings: Settings, secret: str) -> str:
    return hmac.new(derived_key(settings, "oauth-clients"), secret.encode(), hashlib.sha256).hexdigest()


def _invalid(field: str, constraint: str, message: str) -> ValidationFailed:
    return ValidationFailed("Request validation failed",
                            details=[{"field": field, "constraint": constraint, "message": message}])


def check_redirect_uri(uri: str, field: str) -> None:
    """An absolute https URI, or http on a loopback address (RFC 8252 §7.3, for native apps and local tools);
    no fragment (RFC 6749 §3.1.2) and no user info."""
    if not uri or len(uri) > MAX_URI_LENGTH or any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7e for c in uri):
        raise _invalid(field, "format", f"An absolute URI of printable ASCII, at most {MAX_URI_LENGTH} characters")
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise _invalid(field, "format", "Not a valid URI") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _invalid(field, "format", "Must be an absolute https:// URI (or http:// on a loopback address)")
    if parts.fragment or "#" in uri:
        raise _invalid(field, "format", "Must not contain a fragment")
    if parts.username is not None or parts.password is not None:
        raise _invalid(field, "format", "Must not contain user information")
    if not is_secure_transport(uri):  # authlib's rule: https, or http on localhost / a loopback address
        raise _invalid(field, "format", "http:// is allowed on loopback addresses only; use https://")


def create_client(settings: Settings, owner_id: str, name: str, redirect_uris: list[str], scopes: list[str],
                  client_type: Literal["confidential", "public"] = "confidential") -> NewClient:
    name = name.strip()
    if not 1 <= len(name) <= 100 or any(ord(c) < 0x20 for c in name):
        raise _invalid("name", "length", "1-100 printable characters")
    if not 1 <= len(redirect_uris) <= MAX_REDIRECT_URIS:
        raise _invalid("redirect_uris", "length", f"1-{MAX_REDIRECT_URIS} URIs")
    for i, uri in enumerate(redirect_uris):
        check_redirect_uri(uri, f"redirect_uris[{i}]")
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise _invalid("scopes", "enum", f"A non-empty subset of {list(SCOPES)}")
    if client_type not in ("confidential", "public"):
        raise _invalid("type", "enum", "confidential or public")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32) if client_type == "confidential" else None
    row = OAuthClientRow(
        id=CLIENT_ID_PREFIX + secrets.token_urlsafe(16), owner_id=owner_id, name=name,
        secret_hash=_digest(settings, secret) if secret else None,
        token_endpoint_auth_method=CONFIDENTIAL if secret else PUBLIC,
        redirect_uris=list(dict.fromkeys(redirect_uris)), scopes=normalise_scope(scopes),
    )
    with session_scope() as session:
        session.add(row)
    log.info("OAuth client %s (%s) registered by %s", row.id, client_type, owner_id)
    return NewClient(info=info(row), client_secret=secret)


def info(row: OAuthClientRow) -> ClientInfo:
    return ClientInfo(client_id=row.id, name=row.name,
                      type="public" if row.token_endpoint_auth_method == PUBLIC else "confidential",
                      token_endpoint_auth_method=row.token_endpoint_auth_method, redirect_uris=row.redirect_uris,
                      scopes=row.scopes.split(), owner_id=row.owner_id, created_at=row.created_at)


def find(client_id: str) -> OAuthClientRow | None:
    """An active client, or None (unknown and deleted clients look the same)."""
    if not client_id or len(client_id) > 100:
        return None
    with session_scope() as session:
        row = session.get(OAuthClientRow, client_id)
        return row if row is not None and row.revoked_at is None else None


def list_clients(owner_id: str) -> list[ClientInfo]:
    with session_scope() as session:
        rows = session.exec(
            select(OAuthClientRow).where(OAuthClientRow.owner_id == owner_id, col(OAuthClientRow.revoked_at).is_(None))
            .order_by(col(OAuthClientRow.created_at).desc())
        ).all()
        return [info(row) for row in rows]


def get_client(owner_id: str, client_id: str) -> ClientInfo:
    row = find(client_id)
    if row is None or row.owner_id != owner_id:
        raise NotFound("oauth client", client_id)
    return info(row)


def delete_client(owner_id: str, client_id: str, *, any_owner: bool = False) -> None:
    """Deletes the client and signs out every session it holds. Someone else's client is simply not found."""
    now = utcnow()
    with session_scope() as session:
        conditions = [col(OAuthClientRow.id) == client_id, col(OAuthClientRow.revoked_at).is_(None)]
        if not any_owner:
            conditions.append(col(OAuthClientRow.owner_id) == owner_id)
        deleted = session.exec(update(OAuthClientRow).where(*conditions).values(revoked_at=now))
        if deleted.rowcount != 1:
            raise NotFound("oauth client", client_id)
        held = sa_select(OAuthGrantRow.session_id).where(col(OAuthGrantRow.client_id) == client_id)
        session.exec(update(AuthSessionRow)
                     .where(col(AuthSessionRow.id).in_(held), col(AuthSessionRow.revoked_at).is_(None))
                     .values(revoked_at=now, revoked_reason="oauth client deleted"))
    log.info("OAuth client %s deleted", client_id)
