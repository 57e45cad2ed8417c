"""JWTs (HS256, pyjwt): access tokens and refresh tokens, both bound to a login session (`sid`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from core.auth.secret import derived_key
from core.errors import Unauthorized
from core.ids import new_id
from core.settings import Settings

ALGORITHM = "HS256"
ISSUER = "stellarflow"
ACCESS = "access"
REFRESH = "refresh"
_REQUIRED = ["sub", "sid", "jti", "iat", "exp", "typ", "iss"]


@dataclass(frozen=True)
class Claims:
    sub: str  # user id
    sid: str  # session id
    jti: str
    iat: int
    exp: int
    typ: str


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def issue(settings: Settings, *, typ: str, sub: str, sid: str, ttl_s: int, jti: str | None = None,
          now: float | None = None) -> tuple[str, Claims]:
    issued = int(now if now is not None else time.time())
    claims = Claims(sub=sub, sid=sid, jti=jti or new_id("jti"), iat=issued, exp=issued + ttl_s, typ=typ)
    payload = {**claims.__dict__, "iss": ISSUER}
    return jwt.encode(payload, derived_key(settings, "jwt"), algorithm=ALGORITHM), claims


def decode(settings: Settings, token: str, typ: str) -> Claims:
    """The claims of a well-signed, unexpired token of this type; otherwise Unauthorized (never saying which
    check failed beyond expired/invalid, and never quoting the token)."""
    try:
        payload = jwt.decode(token, derived_key(settings, "jwt"), algorithms=[ALGORITHM], issuer=ISSUER,
                             options={"require": _REQUIRED})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("Invalid token") from None
    if payload.get("typ") != typ:
        raise Unauthorized("Invalid token")
    return Claims(**{name: payload[name] for name in ("sub", "sid", "jti", "iat", "exp", "typ")})
