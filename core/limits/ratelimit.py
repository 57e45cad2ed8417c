"""Request budgets per tier, counted with the `limits` library in memory or in Redis.

A tier (the spec's Free / Pro / Enterprise table) has three numbers: requests per minute, requests per hour and a
burst. They are read this way:

* **per minute is the sustained rate, burst is how many requests may arrive at once.** That is a *moving window*
  of ``burst`` requests per ``burst × 60 / per_minute`` seconds (rounded up to whole seconds): Free allows 100
  requests at once, and over any 100 seconds never more than 100, which averages out at 60 a minute. A slot comes
  back exactly one window after the request that used it, so a client that spreads its requests out gets them
  back at the same pace, and one that fires its whole burst at once waits one window for the next burst.
  (`limits` has no token bucket; the moving window is the exact strategy it has, and it gives the same two
  guarantees a bucket of ``burst`` tokens refilled at ``per_minute`` would: never more than ``burst`` at once,
  never more than ``per_minute`` a minute on average. Rounding the window up only ever makes the rate lower.)
* **per hour** is a second, independent moving window of ``per_hour`` requests per 3600 s.
* Both windows are moving windows, so counts, ``Retry-After`` and ``X-RateLimit-Reset`` are exact (no boundary
  where a fixed window would let twice the budget through, no estimate as with a sliding-window counter). The
  price is memory: one timestamp per counted request per window (in Redis a list of at most ``per_hour``
  entries per caller, ~20 kB for Free, ~200 kB for Pro), which is fine for an orchestration API's callers.
* A tier whose three numbers are all unset is unlimited (Enterprise): nothing is stored or counted for it.

A request is let through only when every window of its budget has room; then it is counted in all of them. The
*binding* window is the one with the fewest requests left: its numbers go into the ``X-RateLimit-*`` headers,
and on a refusal the window that refused gives ``Retry-After``.

The storage is in-process (``memory://``, one budget per API process) unless ``REDIS_URL`` is set, in which case
every API replica counts in the same Redis keys and so shares one budget. If the storage cannot be reached the
limiter *fails open*: `RateLimiter.hit` returns ``None``, the request goes through without rate-limit headers and a
warning is logged (at most once per `FAIL_OPEN_BACKOFF_S`, during which the storage is not retried).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Annotated, Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

log = logging.getLogger("stellarflow.ratelimit")

FAIL_OPEN_BACKOFF_S = 5.0
DEFAULT_TIER = "free"


@dataclass(frozen=True)
class Caller:
    """Who a valid credential counts as: the tier of its budget and the key the budget is kept under. The auth
    layer keys every credential of one user (access tokens of every session, API keys, OAuth tokens) to that user,
    so a user has one budget however many credentials they hold."""

    tier: str
    key: str


class RateTier(BaseModel):
    """One budget: ``None`` everywhere means unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_minute: int | None = Field(default=None, ge=1)
    per_hour: int | None = Field(default=None, ge=1)
    burst: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _burst_needs_rate(self) -> RateTier:
        if self.burst is not None and self.per_minute is None:
            raise ValueError("burst needs per_minute (the rate at which a burst is refilled)")
        return self

    @property
    def unlimited(self) -> bool:
        return self.per_minute is None and self.per_hour is None

    def windows(self) -> list[Window]:
        out: list[Window] = []
        if self.per_minute is not None:
            burst = self.burst or self.per_minute
            seconds = max(1, math.ceil(burst * 60 / self.per_minute))
            out.append(Window(burst, seconds))
        if self.per_hour is not None:
            out.append(Window(self.per_hour, 3600))
        return out


DEFAULT_TIERS: dict[str, dict[str, int | None]] = {
    "free": {"per_minute": 60, "per_hour": 1_000, "burst": 100},
    "pro": {"per_minute": 300, "per_hour": 10_000, "burst": 500},
    "enterprise": {"per_minute": None, "per_hour": None, "burst": None},
}
# Login, registration, token and refresh calls, counted per client IP: brute-force protection.
DEFAULT_AUTH_BUDGET: dict[str, int | None] = {"per_minute": 10, "per_hour": 100, "burst": 20}


def _merge_tiers(value: Any) -> Any:
    """A configured map only overrides what it names: ``{"free": {"per_minute": 30}}`` keeps Free's other numbers
    and the other tiers."""
    if not isinstance(value, dict):
        return value
    merged: dict[str, Any] = {name: dict(numbers) for name, numbers in DEFAULT_TIERS.items()}
    for name, numbers in value.items():
        if isinstance(numbers, RateTier):
            numbers = numbers.model_dump()
        if isinstance(numbers, dict) and name in merged:
            merged[name] = {**merged[name], **numbers}
        else:
            merged[name] = numbers
    return merged


def _merge_auth(value: Any) -> Any:
    if isinstance(value, RateTier):
        value = value.model_dump()
    return {**DEFAULT_AUTH_BUDGET, **value} if isinstance(value, dict) else value


RateTiers = Annotated[dict[str, RateTier], BeforeValidator(_merge_tiers)]
AuthBudget = Annotated[RateTier, BeforeValidator(_merge_auth)]


def default_tiers() -> dict[str, RateTier]:
    return {name: RateTier(**numbers) for name, numbers in DEFAULT_TIERS.items()}


def default_auth_budget() -> RateTier:
    return RateTier(**DEFAULT_AUTH_BUDGET)


@dataclass(frozen=True)
class Window:
    amount: int
    seconds: int

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.seconds, namespace="stellarflow")

    @property
    def label(self) -> str:
        """``1h``, ``1m``, ``100s``: the ``window`` field of a 429 body."""
        for unit, size in (("h", 3600), ("m", 60)):
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"


@dataclass(frozen=True)
class Decision:
    """The outcome for one request. ``limit is None`` means the budget is unlimited."""

    allowed: bool
    resource: str
    limit: int | None = None
    remaining: int | None = None
    reset: float = 0.0  # epoch seconds at which the binding window next gives a request back
    window: str = ""
    retry_after: int | None = None  # whole seconds, only on a refusal


REDIS_SCHEMES = ("redis", "rediss", "redis+unix")


def _check_redis_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in REDIS_SCHEMES or not rest:
        raise ValueError(f"REDIS_URL must look like redis://host:6379/0 (schemes: {', '.join(REDIS_SCHEMES)})")
    return value


RedisUrl = Annotated[str | None, AfterValidator(_check_redis_url)]


def storage_uri(redis_url: str | None) -> str:
    """``redis://…`` → the async ``limits`` URI; unset → in-process memory."""
    if not redis_url:
        return "async+memory://"
    return f"async+{redis_url}"


class RateLimiter:
    """Counts requests against budgets. One per app instance; replicas share counts only through Redis."""

    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "stellarflow:ratelimit",
                 timeout_s: float = 0.5) -> None:
        self.uri = storage_uri(redis_url)
        self.shared = redis_url is not None and redis_url != ""
        options: dict[str, Any] = {}
        if self.shared:
            # A connection is opened once per pool slot: give it longer than one command (under load, 0.5 s to
            # connect made a healthy Redis look down and the limiter fail open).
            options = {"implementation": "redispy", "key_prefix": key_prefix, "wrap_exceptions": True,
                       "socket_timeout": timeout_s, "socket_connect_timeout": max(timeout_s, 2.0)}
        storage = storage_from_string(self.uri, **options)
        assert isinstance(storage, Storage)
        self.storage: Storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._down_until = 0.0

    @property
    def backend(self) -> str:
        return "redis" if self.shared else "memory"

    async def hit(self, resource: str, budget: RateTier, identity: str) -> Decision | None:
        """Count one request by ``identity`` against ``budget``; ``None`` when the storage is unreachable."""
        windows = budget.windows()
        if not windows:
            return Decision(allowed=True, resource=resource, reset=time.time())
        if time.monotonic() < self._down_until:
            return None
        try:
            return await self._hit(resource, windows, identity)
        except Exception as err:
            self._down_until = time.monotonic() + FAIL_OPEN_BACKOFF_S
            log.warning("rate-limit storage %s unreachable (%s: %s); letting requests through unlimited for %.0f s",
                        self.backend, type(err).__name__, err, FAIL_OPEN_BACKOFF_S)
            return None

    async def _hit(self, resource: str, windows: list[Window], identity: str) -> Decision:
        stats = []
        for window in windows:
            stats.append(await self._strategy.get_window_stats(window.item, resource, identity))
        full = [(window, stat) for window, stat in zip(windows, stats, strict=True) if stat.remaining < 1]
        if full:
            return self._refusal(resource, full)
        for window in windows:
            if not await self._strategy.hit(window.item, resource, identity):
                # Another request (or replica) took the last slot between the look and the hit.
                stat = await self._strategy.get_window_stats(window.item, resource, identity)
                return self._refusal(resource, [(window, stat)])
        after = [(window, stat.remaining - 1, stat.reset_time) for window, stat in zip(windows, stats, strict=True)]
        window, remaining, reset = min(after, key=lambda row: (row[1], -row[2]))
        return Decision(allowed=True, resource=resource, limit=window.amount, remaining=max(0, remaining),
                        reset=reset, window=window.label)

    @staticmethod
    def _refusal(resource: str, full: list[tuple[Window, Any]]) -> Decision:
        window, stat = max(full, key=lambda row: row[1].reset_time)
        retry_after = max(1, math.ceil(stat.reset_time - time.time()))
        return Decision(allowed=False, resource=resource, limit=window.amount, remaining=0, reset=stat.reset_time,
                        window=window.label, retry_after=retry_after)

    async def reset(self) -> None:
        """Forget every count under this limiter's key prefix (tests, and an operator's escape hatch)."""
        await self.storage.reset()

    async def aclose(self) -> None:
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:  # closing a connection that never opened, or one already dropped
                pass
