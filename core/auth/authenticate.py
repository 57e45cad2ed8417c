"""One entry point for every credential the API accepts as `Authorization: Bearer <credential>`."""

from __future__ import annotations

import hashlib
import threading
import time

from core.auth import api_keys, sessions, tokens
from core.auth.identity import Identity
from core.errors import Unauthorized
from core.limits.ratelimit import Caller
from core.settings import Settings


def authenticate(settings: Settings, credential: str) -> Identity:
    """An API key or a JWT access token, checked against its key row or session row (so revocation is
    immediate). Raises Unauthorized otherwise."""
    if api_keys.looks_like_key(credential):
        return api_keys.check_key(settings, credential)
    if tokens.looks_like_jwt(credential):
        return sessions.check_access_token(settings, credential)
    raise Unauthorized("Invalid token")


class TierResolver:
    """`resolver(token) -> Caller(tier, key) | None` for the rate limiter, which runs before routing: the user's
    tier, and `user:<id>` as the key the budget is counted under, so every token and API key of one user shares
    one budget. None for a credential that is not valid. Answers are cached a few seconds per token (keyed by a
    hash, so no credential is kept in memory)."""

    def __init__(self, settings: Settings, ttl_s: float = 5.0, max_entries: int = 10_000) -> None:
        self.settings = settings
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[bytes, tuple[float, Caller | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, token: str) -> Caller | None:
        if not token:
            return None
        key = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            user = authenticate(self.settings, token).user
            caller: Caller | None = Caller(tier=user.tier, key=f"user:{user.id}")
        except Unauthorized:
            caller = None
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= self.max_entries:
                    self._cache.clear()
            self._cache[key] = (now + self.ttl_s, caller)
        return caller
