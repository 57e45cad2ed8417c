"""Health of the platform's components, each checked for real, with the time each check took: a `SELECT 1` on the
database, a health check on the Temporal frontend, DescribeTaskQueue on our task queues (is any worker polling?),
and a PING to Redis when REDIS_URL is set. Both REST dialects and `/api/system/status` present this one answer.

A failing check is an answer (`unhealthy`, with the exception's class name), never an exception: health is what
a load balancer or `stellarflow up` polls while things are still coming up.

Overall: `unhealthy` (HTTP 503) when the database or Temporal is down — the API cannot serve; `degraded` (HTTP 200)
when no worker polls a task queue or Redis is down — the API serves, but runs would wait (or limits fall back to
each process); else `healthy`.

Who sees what: anyone gets the overall status (and the HTTP status that goes with it); only a caller holding
`DETAILS_PERMISSION` (admins) gets the components, their timings, where Temporal was reached and what failed.
Those are internals an attacker maps a deployment with.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from temporalio.client import Client

from core.db import get_engine
from core.settings import Settings
from core.system.temporal_state import QueueState, describe_queues

TEMPORAL_TIMEOUT = timedelta(seconds=3)
CACHE_TIMEOUT_S = 1.0
DETAILS_PERMISSION = "system:health"  # in no role's list: admins only (they are allowed every permission)
ESSENTIAL = ("database", "temporal")  # down: the API cannot serve (503); anything else down: degraded


class ComponentHealth(BaseModel):
    status: str  # healthy | degraded | unhealthy | not_configured
    response_time_ms: float | None = None  # measured, to 0.01 ms, for failed checks too; None = not checked
    target: str | None = None  # where the component was reached (Temporal's address)
    error: str | None = None  # the exception's class name (or what is missing) when the check failed
    details: dict[str, Any] = Field(default_factory=dict)  # what the check found (pollers per queue...)


class SystemHealth(BaseModel):
    components: dict[str, ComponentHealth]
    queues: list[QueueState] = Field(default_factory=list)  # what DescribeTaskQueue said, when it answered

    @property
    def status(self) -> str:
        checked = {name: c for name, c in self.components.items() if c.status != "not_configured"}
        if any(checked[name].status != "healthy" for name in ESSENTIAL if name in checked):
            return "unhealthy"
        if any(c.status != "healthy" for c in checked.values()):
            return "degraded"
        return "healthy"

    @property
    def healthy(self) -> bool:
        """Whether the API can serve (HTTP 200): healthy or degraded."""
        return self.status != "unhealthy"


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database() -> ComponentHealth:
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure is an unhealthy database, reported by kind
        return ComponentHealth(status="unhealthy", error=type(err).__name__, response_time_ms=_elapsed_ms(started))
    return ComponentHealth(status="healthy", response_time_ms=_elapsed_ms(started),
                           details={"dialect": get_engine().dialect.name})


async def check_temporal(settings: Settings, client: Callable[[], Awaitable[Client]]) -> ComponentHealth:
    """`client` connects on first use, so a Temporal that cannot be reached at all is an unhealthy answer too."""
    started = time.perf_counter()
    try:
        connected = await client()
        await connected.service_client.check_health(timeout=TEMPORAL_TIMEOUT)
    except Exception as err:  # noqa: BLE001 - as above
        return ComponentHealth(status="unhealthy", error=type(err).__name__, response_time_ms=_elapsed_ms(started))
    return ComponentHealth(status="healthy", target=settings.temporal_target, response_time_ms=_elapsed_ms(started))


async def check_workers(settings: Settings, client: Callable[[], Awaitable[Client]]
                        ) -> tuple[ComponentHealth, list[QueueState]]:
    """Degraded when a task queue (workflow or activity tasks) has no live poller: runs started now would wait."""
    started = time.perf_counter()
    try:
        queues = await describe_queues(await client(), settings)
    except Exception as err:  # noqa: BLE001 - as above
        return ComponentHealth(status="unhealthy", error=type(err).__name__,
                               response_time_ms=_elapsed_ms(started)), []
    elapsed = _elapsed_ms(started)
    idle = [f"{q.name}/{q.kind}" for q in queues if not q.pollers]
    identities = sorted({p.identity for q in queues for p in q.pollers})
    details = {"workers": len(identities),
               "queues": {f"{q.name}/{q.kind}": {"pollers": len(q.pollers), "backlog": q.backlog} for q in queues}}
    if idle:
        return ComponentHealth(status="degraded", response_time_ms=elapsed, details=details,
                               error=f"no worker polls {', '.join(idle)}"), queues
    return ComponentHealth(status="healthy", response_time_ms=elapsed, details=details), queues


async def check_cache(settings: Settings) -> ComponentHealth:
    """Redis (rate-limit counts shared by replicas) when REDIS_URL is set; `not_configured` otherwise."""
    if not settings.redis_url:
        return ComponentHealth(status="not_configured")
    from redis.asyncio import Redis

    started = time.perf_counter()
    url = str(settings.redis_url).replace("redis+unix://", "unix://", 1)  # the limits library's spelling
    connection = Redis.from_url(url, socket_timeout=CACHE_TIMEOUT_S,
                                socket_connect_timeout=CACHE_TIMEOUT_S)
    try:
        await connection.ping()
    except Exception as err:  # noqa: BLE001 - as above
        return ComponentHealth(status="unhealthy", error=type(err).__name__, response_time_ms=_elapsed_ms(started))
    finally:
        await connection.aclose()
    return ComponentHealth(status="healthy", response_time_ms=_elapsed_ms(started))


async def check_components(settings: Settings, client: Callable[[], Awaitable[Client]]) -> SystemHealth:
    """Database, Temporal, workers, cache (in this order, as each dialect lists them); the network checks run
    concurrently, the workers' only once Temporal answered."""
    database_task = asyncio.create_task(asyncio.to_thread(check_database))
    cache_task = asyncio.create_task(check_cache(settings))
    temporal = await check_temporal(settings, client)
    if temporal.status == "healthy":
        workers, queues = await check_workers(settings, client)
    else:
        workers, queues = ComponentHealth(status="unhealthy", error="Temporal is unreachable"), []
    return SystemHealth(components={"database": await database_task, "temporal": temporal, "workers": workers,
                                    "cache": await cache_task}, queues=queues)
