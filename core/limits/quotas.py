"""Per-tier quotas (the spec's "Rate Limiting & Quotas" table) and the one check every service calls.

=====================  ======  =======  ==========  ==========
quota                  Free    Pro      Enterprise  kind
=====================  ======  =======  ==========  ==========
agents                 5       50       unlimited   capacity
tasks_per_hour         100     1,000    unlimited   rate
memory_bytes           100 MiB 10 GiB   unlimited   capacity
websocket_connections  1       10       unlimited   capacity
=====================  ======  =======  ==========  ==========

Numbers are configurable per tier (``STELLARFLOW_QUOTAS``, merged over these defaults; ``null`` = unlimited).
A *capacity* quota caps how much a caller holds at once and is refused with **403** (waiting does not help, freeing
something does); a *rate* quota caps how much is done per hour and is refused with **429** (waiting helps; pass
``retry_after`` when the caller knows when the oldest counted item leaves the hour). Both use code
``QUOTA_EXCEEDED``, a message naming the quota, and details ``{quota, limit, used, requested, tier}``.

The service owns the counting (``used`` is what the caller holds now, or did in the last hour) and calls
`check_quota` before it creates anything. Where each quota will be enforced, as those resources land:

* ``agents``: the agent service's create (``POST /api/agents``, ``POST /api/v2/agents``, swarm spawns that create
  agents, and the agents an orchestration spawns for itself), with ``used`` = the owner's live (not terminated)
  agents and ``requested`` = how many the call adds.
* ``tasks_per_hour``: the task service's create/orchestrate (``POST /api/tasks``, ``POST /api/v2/tasks``,
  ``POST /api/v2/tasks/orchestrate``), with ``used`` = the owner's tasks created in the last 3600 s,
  ``requested`` = 1 for a task and the number of agent slots of all phases for an orchestration (one task each;
  an `adaptive` retry is not counted in advance), and ``retry_after`` = when the oldest of them turns an hour old.
* ``memory_bytes``: the memory service's store and update (``POST /api/memory``, ``PUT …``, ``POST /api/v2/memory``),
  with ``used`` = bytes the owner stores now and ``requested`` = the size of the new value (minus the old one on an
  update).
* ``websocket_connections``: the WebSocket endpoint, before accepting, with ``used`` = the owner's open
  connections; a refusal there closes the handshake with policy-violation code 1008 and the same message.

The tier comes from the caller's principal (the auth layer's tier for the user or key); an unknown tier is held to
Free's numbers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from core.errors import QuotaExceeded

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger("stellarflow.quotas")

Quota = Literal["agents", "tasks_per_hour", "memory_bytes", "websocket_connections"]
QUOTAS: tuple[str, ...] = ("agents", "tasks_per_hour", "memory_bytes", "websocket_connections")
RATE_QUOTAS = frozenset({"tasks_per_hour"})
LABELS = {"agents": "agents", "tasks_per_hour": "tasks per hour", "memory_bytes": "memory storage",
          "websocket_connections": "WebSocket connections"}
DEFAULT_TIER = "free"

MiB = 1024 * 1024
GiB = 1024 * MiB


class TierQuotas(BaseModel):
    """One tier's quotas; ``None`` = unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: int | None = Field(default=None, ge=0)
    tasks_per_hour: int | None = Field(default=None, ge=0)
    memory_bytes: int | None = Field(default=None, ge=0)
    websocket_connections: int | None = Field(default=None, ge=0)


DEFAULT_QUOTAS: dict[str, dict[str, int | None]] = {
    "free": {"agents": 5, "tasks_per_hour": 100, "memory_bytes": 100 * MiB, "websocket_connections": 1},
    "pro": {"agents": 50, "tasks_per_hour": 1_000, "memory_bytes": 10 * GiB, "websocket_connections": 10},
    "enterprise": {"agents": None, "tasks_per_hour": None, "memory_bytes": None, "websocket_connections": None},
}


def _merge_quotas(value: Any) -> Any:
    """A configured map only overrides what it names, like the rate-limit tiers."""
    if not isinstance(value, dict):
        return value
    merged: dict[str, Any] = {name: dict(numbers) for name, numbers in DEFAULT_QUOTAS.items()}
    for name, numbers in value.items():
        if isinstance(numbers, TierQuotas):
            numbers = numbers.model_dump()
        merged[name] = {**merged[name], **numbers} if isinstance(numbers, dict) and name in merged else numbers
    return merged


TierQuotaMap = Annotated[dict[str, TierQuotas], BeforeValidator(_merge_quotas)]


def default_quotas() -> dict[str, TierQuotas]:
    return {name: TierQuotas(**numbers) for name, numbers in DEFAULT_QUOTAS.items()}


def quota_limit(tier: str, quota: str, settings: Settings | None = None) -> int | None:
    """The limit of ``quota`` on ``tier`` (``None`` = unlimited), for usage displays as well as the check."""
    if quota not in QUOTAS:
        raise ValueError(f"unknown quota {quota!r}; known: {', '.join(QUOTAS)}")
    if settings is None:
        from core.settings import get_settings

        settings = get_settings()
    tiers = settings.quotas
    if tier not in tiers:
        log.warning("unknown quota tier %r; holding it to %r", tier, DEFAULT_TIER)
    quotas = tiers.get(tier) or tiers.get(DEFAULT_TIER) or default_quotas()[DEFAULT_TIER]
    return getattr(quotas, quota)


def check_quota(tier: str, quota: Quota | str, used: int, requested: int = 1, *,
                settings: Settings | None = None, retry_after: float | None = None) -> int | None:
    """Raise `QuotaExceeded` unless ``used + requested`` fits ``quota`` on ``tier``; else return what is left after
    the request (``None`` when unlimited).

    ``used`` is what the caller holds (or, for a rate quota, did in the last hour) before this request;
    ``requested`` is what the request adds (agents to create, bytes to store; 0 only checks that nothing is over).
    """
    if used < 0 or requested < 0:
        raise ValueError("used and requested must not be negative")
    limit = quota_limit(tier, quota, settings)
    if limit is None:
        return None
    if used + requested <= limit:
        return limit - used - requested
    label = LABELS[quota]
    unit = " bytes" if quota == "memory_bytes" else ""
    window = " in the last hour" if quota in RATE_QUOTAS else ""
    message = (f"Quota exceeded: {label} ({used}{unit} used{window} + {requested} requested, "
               f"limit {limit}{unit} on the {tier} tier)")
    raise QuotaExceeded(message, quota=quota, limit=limit, used=used, requested=requested, tier=tier,
                        status=429 if quota in RATE_QUOTAS else 403, retry_after=retry_after)
