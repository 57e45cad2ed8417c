"""`GET /api/system/status`: the platform as it is now. Components from the health checks (each really checked,
with its time), figures from the projections (agents not terminated, tasks waiting to run) and this host (psutil),
and the cluster as Temporal describes itself — nothing invented: what Temporal does not report (its node count, a
leader) is None."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import select
from temporalio.client import Client

from core.agents.models import AgentStatus, TaskStatus
from core.agents.tables import AgentRow, TaskRow
from core.db import session_scope
from core.settings import Settings
from core.system import host
from core.system.health import SystemHealth, check_components
from core.system.temporal_state import ClusterInfo, cluster_info
from core.system.version import package_version

LIVE_AGENTS = (AgentStatus.initializing, AgentStatus.idle, AgentStatus.active)
WAITING_TASKS = (TaskStatus.pending, TaskStatus.queued)


class SystemStatus(BaseModel):
    version: str
    uptime_s: float
    health: SystemHealth
    agents_active: int
    tasks_queued: int
    host: host.HostResources
    cluster: ClusterInfo | None  # None when Temporal did not answer


def projection_counts() -> tuple[int, int]:
    """(agents not terminated, tasks pending or queued), from the projection tables."""
    with session_scope() as session:
        agents = session.exec(select(func.count()).select_from(AgentRow)
                              .where(AgentRow.status.in_([s.value for s in LIVE_AGENTS]))).one()  # type: ignore[attr-defined]
        tasks = session.exec(select(func.count()).select_from(TaskRow)
                             .where(TaskRow.status.in_([s.value for s in WAITING_TASKS]))).one()  # type: ignore[attr-defined]
    return int(agents), int(tasks)


async def system_status(settings: Settings, client: Callable[[], Awaitable[Client]], *, uptime_s: float
                        ) -> SystemStatus:
    health = await check_components(settings, client)
    (agents, tasks), resources = await asyncio.gather(asyncio.to_thread(projection_counts),
                                                      asyncio.to_thread(host.sample))
    cluster = None
    if health.components["temporal"].status == "healthy":
        try:
            cluster = await cluster_info(await client())
        except Exception:  # noqa: BLE001 - the temporal component already says what is wrong
            cluster = None
    return SystemStatus(version=package_version(), uptime_s=round(uptime_s, 3), health=health, agents_active=agents,
                        tasks_queued=tasks, host=resources, cluster=cluster)


def component_states(health: SystemHealth) -> dict[str, Any]:
    """name → status, with the MCP server's: it is served by this API process (`/mcp`, docs/mcp.md), which is
    answering."""
    states = {name: component.status for name, component in health.components.items()}
    states["mcp_server"] = "healthy"
    return states
