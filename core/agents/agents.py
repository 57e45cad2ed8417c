"""Agents: spawn, read (live), list, reconfigure, terminate, health, metrics, and task assignment.

An agent is an AgentWorkflow whose workflow id is the agent id; the database holds its projection and events.
Every function acts for a `Caller` (core/access.py): changes need the agent's owner or an admin, and reads go
through `core.agents.visibility`, which withholds the config from users it is not shared with."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import select
from temporalio.client import Client, WorkflowQueryRejectedError
from temporalio.common import QueryRejectCondition
from temporalio.service import RPCError

from core.access import Caller, require_write
from core.agents import figures, lookup
from core.agents.config_rules import check_agent_config
from core.agents.contracts import (
    AgentHandlers,
    AgentInput,
    AgentPatch,
    AgentPulse,
    JoinRequest,
    SwarmHandlers,
    TerminateRequest,
)
from core.agents.entities import seed_projection, update
from core.agents.lookup import agent_row, get_swarm, live_agents_of
from core.agents.models import EXECUTORS, AgentSpec, AgentStatus
from core.agents.projection import AGENT_PROJECTION
from core.agents.state import AgentState, SwarmState
from core.agents.tables import AgentRow
from core.agents.types import resolve
from core.agents.visibility import agent_view
from core.db import session_scope
from core.errors import Conflict, NotFound, Unavailable, ValidationFailed
from core.events.tables import EventRow
from core.ids import new_id
from core.limits.quotas import check_quota
from core.listing import Page, PageRequest, paginate
from core.names import AGENT_WORKFLOW
from core.settings import Settings
from core.sharing import check_shared_with
from core.temporal import check_workflow_input

SORTABLE = {"createdAt": AgentRow.created_at, "name": AgentRow.name, "type": AgentRow.type,
            "status": AgentRow.status, "updatedAt": AgentRow.updated_at}
FILTERABLE = {"status": AgentRow.status, "type": AgentRow.type, "swarmId": AgentRow.swarm_id,
              "agentType": AgentRow.type}
TIMEFRAMES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7),
              "30d": timedelta(days=30)}


class AgentCreate(BaseModel):
    type: str
    name: str | None = Field(default=None, min_length=1, max_length=200)
    capabilities: list[str] | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    swarm_id: str | None = None
    shared_with: list[str] = Field(default_factory=list)


class AgentHealth(BaseModel):
    agent_id: str
    status: str  # healthy | degraded | unhealthy
    checks: dict[str, str]
    metrics: dict[str, Any]
    last_heartbeat: datetime | None
    answered_in_ms: float | None = None


def agent_spec(settings: Settings, body: AgentCreate, *, owner: str | None, field_prefix: str = "") -> AgentSpec:
    """Resolve the type's defaults (an unknown type is a 400 listing the valid ones) and the executor."""
    kind = resolve(body.type, settings.agent_types, field=f"{field_prefix}type")
    executor = str(body.config.get("executor") or kind.executor)
    if executor not in EXECUTORS:
        raise ValidationFailed("Unknown executor", details=[{
            "field": f"{field_prefix}config.executor", "constraint": "enum", "value": executor,
            "allowed": list(EXECUTORS), "message": f"must be one of: {', '.join(EXECUTORS)}"}])
    agent_id = new_id("ag")
    return AgentSpec(id=agent_id, name=body.name or f"{body.type}-{agent_id[-6:].lower()}", type=body.type,
                     capabilities=body.capabilities if body.capabilities is not None else list(kind.capabilities),
                     config=body.config, metadata=body.metadata, swarm_id=body.swarm_id, executor=executor,
                     owner=owner, shared_with=body.shared_with, created_at=datetime.now(UTC))


def agent_input(settings: Settings, spec: AgentSpec) -> AgentInput:
    return AgentInput(spec=spec, heartbeat_timeout_s=settings.heartbeat_timeout_s,
                      task_timeout_s=settings.default_step_timeout_s, max_attempts=settings.task_max_attempts)


async def create_agent(client: Client, settings: Settings, body: AgentCreate, *, caller: Caller,
                       tier: str) -> AgentState:
    """Spawn an agent owned by the caller. Joining a swarm changes the swarm: its owner's (or an admin's) call."""
    check_agent_config(body.config, body.metadata, settings, caller)
    shared = await asyncio.to_thread(check_shared_with, body.shared_with)
    spec = agent_spec(settings, body.model_copy(update={"shared_with": shared or []}), owner=caller.id)
    check_quota(tier, "agents", await asyncio.to_thread(live_agents_of, caller.id), 1, settings=settings)
    if body.swarm_id:
        swarm = await get_swarm(client, body.swarm_id)
        require_write(caller, swarm.spec.owner, "swarm", body.swarm_id, "add agents to")
        if swarm.status.value == "terminated":
            raise Conflict(f"Swarm {body.swarm_id} is terminated")
        if len(swarm.live_agents) >= swarm.spec.max_agents:
            raise Conflict(f"Swarm {body.swarm_id} already has maxAgents ({swarm.spec.max_agents}) agents")
    state = AgentState(spec=spec)
    workflow_input = agent_input(settings, spec)
    check_workflow_input(workflow_input, "agent")
    await asyncio.to_thread(seed_projection, AGENT_PROJECTION.kind, spec.id, state.model_dump(mode="json"),
                            "agent.created", {"agent_id": spec.id, "type": spec.type})
    try:
        await client.start_workflow(AGENT_WORKFLOW, workflow_input, id=spec.id,
                                    task_queue=settings.task_queue)
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the agent: {err.message}") from None
    if body.swarm_id:
        join = JoinRequest(agent_id=spec.id, type=spec.type, name=spec.name, capabilities=spec.capabilities)
        await update(client, body.swarm_id, SwarmHandlers.JOIN, join, SwarmState, "swarm")
    return agent_view(state, caller)


async def get_agent(client: Client, agent_id: str, *, caller: Caller) -> AgentState:
    """The agent as the caller may see it (live while it runs)."""
    return agent_view(await lookup.get_agent(client, agent_id), caller)


def list_agents(page: PageRequest, *, caller: Caller, swarm_id: str | None = None) -> Page[AgentState]:
    with session_scope() as session:
        query = select(AgentRow)
        if swarm_id is not None:
            query = query.where(AgentRow.swarm_id == swarm_id)
        rows = paginate(session, query, page, sortable=SORTABLE, default="-createdAt", id_column=AgentRow.id,
                        filterable=FILTERABLE)
        return rows.map(lambda row: agent_view(AgentState.model_validate(row.state), caller))


async def update_agent(client: Client, settings: Settings, agent_id: str, patch: AgentPatch, *,
                       caller: Caller) -> AgentState:
    """Reconfigure (owner or admin). The config rules apply to what the patch sets; `shared_with` replaces the
    list."""
    current = await lookup.get_agent(client, agent_id)
    require_write(caller, current.spec.owner, "agent", agent_id)
    if current.status == AgentStatus.terminated:
        raise Conflict(f"Agent {agent_id} is terminated")
    check_agent_config(patch.config or {}, patch.metadata, settings, caller)
    if patch.config and "executor" in patch.config:
        agent_spec(settings, AgentCreate(type=current.spec.type, config={**current.spec.config, **patch.config}),
                   owner=None)  # validates the executor
    if patch.shared_with is not None:
        patch = patch.model_copy(update={"shared_with": await asyncio.to_thread(check_shared_with, patch.shared_with)})
    state = await update(client, agent_id, AgentHandlers.CONFIGURE, patch, AgentState, "agent")
    return agent_view(state, caller)


async def terminate_agent(client: Client, agent_id: str, *, caller: Caller) -> AgentState:
    current = await lookup.get_agent(client, agent_id)
    require_write(caller, current.spec.owner, "agent", agent_id, "terminate")
    if current.status == AgentStatus.terminated:
        return agent_view(current, caller)
    request = TerminateRequest(reason="terminated by request", by=caller.username)
    return agent_view(await update(client, agent_id, AgentHandlers.TERMINATE, request, AgentState, "agent"), caller)


async def agent_health(client: Client, settings: Settings, agent_id: str) -> AgentHealth:
    """Health is what was observed: whether the agent's worker answers its `health` query (connectivity, and how
    fast), its queue, and the resources its last task really used. A closed agent answers from its projection."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        pulse = await client.get_workflow_handle(agent_id).query(
            AgentHandlers.HEALTH, result_type=AgentPulse, reject_condition=QueryRejectCondition.NOT_OPEN)
        answered_ms: float | None = round((loop.time() - started) * 1000, 2)
    except (WorkflowQueryRejectedError, RPCError):
        state = await asyncio.to_thread(agent_row, agent_id)
        if state is None:
            raise NotFound("agent", agent_id) from None
        pulse = AgentPulse(status=state.status, last_heartbeat=state.last_heartbeat, started_at=state.started_at,
                           terminated_at=state.terminated_at, queue_size=len(state.queue),
                           current_task=state.current_task.id if state.current_task else None,
                           last_task=state.history[-1] if state.history else None)
        answered_ms = None
    alive = pulse.status != AgentStatus.terminated and answered_ms is not None
    last = pulse.last_task
    cpu_share = figures.cpu_share(last)
    memory = last.memory_peak_mb if last is not None else None
    checks = {
        "connectivity": "ok" if alive else "down",
        "task_queue": "ok" if pulse.queue_size < 10 else "backlogged",
        "memory": "ok" if memory is None or memory < 4096 else "high",
        "cpu": "ok" if cpu_share is None or cpu_share < 4 else "high",
    }
    status = "unhealthy" if not alive else ("healthy" if all(v == "ok" for v in checks.values()) else "degraded")
    end = pulse.terminated_at or datetime.now(UTC)
    uptime = (end - pulse.started_at).total_seconds() if pulse.started_at else 0.0
    return AgentHealth(
        agent_id=agent_id, status=status, checks=checks,
        metrics={"uptime": round(uptime, 3), "memory_usage": memory, "cpu_usage": cpu_share,
                 "queue_size": pulse.queue_size},
        last_heartbeat=pulse.last_heartbeat, answered_in_ms=answered_ms,
    )


class AgentMetricsReport(BaseModel):
    agent_id: str
    timeframe: str
    tasks_completed: int
    tasks_failed: int
    avg_completion_ms: float | None
    success_rate: float | None
    cpu_time_s: float
    memory_peak_mb: float | None
    active_ms: int
    messages_received: int
    timeline: list[dict[str, Any]]


def agent_metrics(agent_id: str, timeframe: str = "24h") -> AgentMetricsReport:
    """Computed from the agent's `agent.metrics` events (one per finished task) inside the timeframe, bucketed by
    hour (by day for 7d/30d)."""
    if timeframe not in TIMEFRAMES:
        raise ValidationFailed("Unknown timeframe", details=[{
            "field": "timeframe", "constraint": "enum", "value": timeframe, "allowed": list(TIMEFRAMES),
            "message": f"must be one of: {', '.join(TIMEFRAMES)}"}])
    if agent_row(agent_id) is None:
        raise NotFound("agent", agent_id)
    since = datetime.now(UTC) - TIMEFRAMES[timeframe]
    with session_scope() as session:
        rows = session.exec(select(EventRow).where(
            EventRow.resource_id == agent_id, EventRow.at >= since,
            EventRow.type.in_(["agent.metrics", "agent.directive", "agent.task_assigned"]),  # type: ignore[attr-defined]
        ).order_by(EventRow.seq)).all()  # type: ignore[arg-type]
    done = [r for r in rows if r.type == "agent.metrics"]
    completed = [r for r in done if r.data.get("result") == "success"]
    failed = [r for r in done if r.data.get("result") == "failure"]
    durations = [int(r.data.get("duration") or 0) for r in completed + failed]
    cpu = sum(float(r.data.get("metrics", {}).get("cpu") or 0) for r in done)
    memories = [float(m) for r in done if (m := r.data.get("metrics", {}).get("memory")) is not None]
    bucket_hours = 24 if timeframe in ("7d", "30d") else 1
    buckets: dict[datetime, list[int]] = {}
    for r in completed:
        at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
        start = at.replace(minute=0, second=0, microsecond=0)
        if bucket_hours == 24:
            start = start.replace(hour=0)
        buckets.setdefault(start, []).append(int(r.data.get("duration") or 0))
    timeline = [{"timestamp": moment, "tasksCompleted": len(values),
                 "avgResponseTime": round(sum(values) / len(values), 1)} for moment, values in sorted(buckets.items())]
    finished = len(completed) + len(failed)
    return AgentMetricsReport(
        agent_id=agent_id, timeframe=timeframe, tasks_completed=len(completed), tasks_failed=len(failed),
        avg_completion_ms=round(sum(durations) / len(durations), 1) if durations else None,
        success_rate=round(len(completed) / finished, 4) if finished else None,
        cpu_time_s=round(cpu, 4), memory_peak_mb=max(memories) if memories else None,
        active_ms=sum(int(r.data.get("duration") or 0) for r in done),
        messages_received=sum(1 for r in rows if r.type in ("agent.directive", "agent.task_assigned")),
        timeline=timeline,
    )
