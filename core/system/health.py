"""Health of the platform's components, each checked for real: a `SELECT 1` on the database and a health check
on the Temporal frontend, with the time each took. Both REST dialects present this one answer.

A failing check is an answer (`unhealthy`, with the exception's class name), never an exception: health is what
a load balancer or `stellarflow up` polls while things are still coming up.

Who sees what: anyone gets the overall status (and the HTTP status that goes with it); only a caller holding
`DETAILS_PERMISSION` (admins) gets the components, their timings, where Temporal was reached and what failed.
Those are internals an attacker maps a deployment with.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import text
from temporalio.client import Client

from core.db import get_engine
from core.settings import Settings

TEMPORAL_TIMEOUT = timedelta(seconds=3)
DETAILS_PERMISSION = "system:health"  # in no role's list: admins only (they are allowed every permission)


class ComponentHealth(BaseModel):
    status: str  # healthy | unhealthy
    response_time_ms: float | None = None  # measured, to 0.01 ms; None when the check failed
    target: str | None = None  # where the component was reached (Temporal's address)
    error: str | None = None  # the exception's class name when the check failed


class SystemHealth(BaseModel):
    components: dict[str, ComponentHealth]

    @property
    def healthy(self) -> bool:
        return all(component.status == "healthy" for component in self.components.values())


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database() -> ComponentHealth:
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure is an unhealthy database, reported by kind
        return ComponentHealth(status="unhealthy", error=type(err).__name__)
    return ComponentHealth(status="healthy", response_time_ms=_elapsed_ms(started))


async def check_temporal(settings: Settings, client: Callable[[], Awaitable[Client]]) -> ComponentHealth:
    """`client` connects on first use, so a Temporal that cannot be reached at all is an unhealthy answer too."""
    started = time.perf_counter()
    try:
        connected = await client()
        await connected.service_client.check_health(timeout=TEMPORAL_TIMEOUT)
    except Exception as err:  # noqa: BLE001 - as above
        return ComponentHealth(status="unhealthy", error=type(err).__name__)
    return ComponentHealth(status="healthy", target=settings.temporal_target, response_time_ms=_elapsed_ms(started))


async def check_components(settings: Settings, client: Callable[[], Awaitable[Client]]) -> SystemHealth:
    """The database, then Temporal (in this order, as each dialect lists them)."""
    return SystemHealth(components={"database": check_database(),
                                    "temporal": await check_temporal(settings, client)})
