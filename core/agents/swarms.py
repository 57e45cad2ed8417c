"""Swarms: create, read (live), list, reconfigure, control (pause/resume/scale/optimize/rebalance), start/stop as
202 operations, broadcast, delete, and status with performance figures computed from the tasks' events.

A swarm is a SwarmWorkflow whose workflow id is the swarm id; its agents and tasks are workflows of their own.
Every function acts for a `Caller` (core/access.py): reconfiguring, controlling, starting, stopping, broadcasting
to and deleting a swarm need its owner or an admin; its agents and tasks are shown through
`core.agents.visibility`. A swarm itself holds no restricted field: everyone signed in reads it whole
(`get_swarm`, `list_swarms`, `swarm_status`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select
from temporalio.client import Client, WorkflowUpdateStage
from temporalio.service import RPCError

from core.access import Caller, require_write
from core.agents import agents as agent_service
from core.agents import figures
from core.agents import tasks as task_service
from core.agents.config_rules import check_agent_config, refuse_secrets
from core.agents.contracts import (
    AgentTemplate,
    ControlOutcome,
    ControlRequest,
    StopRequest,
    SwarmHandlers,
    SwarmInput,
    SwarmPatch,
)
from core.agents.entities import rejection, seed_projection, update
from core.agents.lookup import get_swarm, live_agents_of
from core.agents.models import (
    MAX_SWARM_AGENTS,
    AgentStatus,
    Priority,
    Strategy,
    SwarmSpec,
    SwarmStatus,
    Topology,
)
from core.agents.projection import SWARM_PROJECTION
from core.agents.state import AgentState, Directive, SwarmState, TaskState
from core.agents.tables import SwarmRow, TaskRow
from core.agents.types import registry, resolve
from core.db import session_scope
from core.errors import Conflict, Unavailable, ValidationFailed
from core.ids import new_id
from core.limits.quotas import check_quota
from core.listing import MAX_PAGE_SIZE, Page, PageRequest, paginate
from core.names import SWARM_WORKFLOW
from core.operations.service import finish_operation, start_operation
from core.settings import Settings
from core.sharing import check_shared_with
from core.temporal import check_workflow_input

SORTABLE = {"createdAt": SwarmRow.created_at, "name": SwarmRow.name, "updatedAt": SwarmRow.updated_at,
            "status": SwarmRow.status}
FILTERABLE = {"status": SwarmRow.status, "topology": SwarmRow.topology, "strategy": SwarmRow.strategy}
CONTROL_ACTIONS = ("pause", "resume", "scale", "optimize", "rebalance")


class InitialAgents(BaseModel):
    """A group of agents a swarm spawns: `count` of `type`, with optional name, capabilities, config, metadata."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=100)
    count: int = Field(default=1, ge=1, le=MAX_SWARM_AGENTS)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    capabilities: list[str] | None = None
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class InitialTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(default="", max_length=100_000)
    type: str | None = Field(default=None, max_length=200)
    priority: Priority = Priority.medium
    requirements: dict[str, Any] = Field(default_factory=dict)


class SwarmCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    objective: str | None = Field(default=None, max_length=10_000)
    topology: Topology = Topology.mesh
    strategy: Strategy = Strategy.balanced
    max_agents: int = Field(default=8, ge=1, le=MAX_SWARM_AGENTS)
    auto_scale: bool = False
    config: dict[str, Any] = Field(default_factory=dict)
    agent_config: dict[str, Any] = Field(default_factory=dict, description="config for the agents it spawns")
    initial_agents: list[InitialAgents] = Field(default_factory=list)
    tasks: list[str | InitialTask] = Field(default_factory=list)
    shared_with: list[str] = Field(default_factory=list)


class Performance(BaseModel):
    throughput: float | None  # tasks finished per minute over window_s; None below core/rates.py's minimum
    efficiency: float | None  # share of agent-time spent running tasks in that window
    coordination_overhead: float | None  # share of a task's latency spent waiting to start
    window_s: float | None  # from the first finished task's queueing to the last one's end
    finished: int = 0  # tasks the figures are measured over


class SwarmStatusReport(BaseModel):
    state: SwarmState
    agents: dict[str, int]
    tasks: dict[str, int]
    progress: float
    performance: Performance
    resource_usage: dict[str, Any]
    health: str


def _validate_agents(settings: Settings, body: SwarmCreate, caller: Caller) -> int:
    """The agents the swarm will spawn: known types, configs that pass `core.agents.config_rules` (the swarm's
    `agent_config` merged under each group's), and no more than `max_agents`."""
    check_agent_config(body.agent_config, None, settings, caller, field="agent_config")
    count = 0
    for index, group in enumerate(body.initial_agents):
        resolve(group.type, settings.agent_types, field=f"initial_agents.{index}.type")
        check_agent_config(group.config or {}, group.metadata, settings, caller,
                           field=f"initial_agents.{index}.config", metadata_field=f"initial_agents.{index}.metadata")
        count += group.count
    if body.topology == Topology.hierarchical and not any(g.type == "coordinator" for g in body.initial_agents):
        count += 1  # the coordinator it adds
    if count > body.max_agents:
        raise ValidationFailed("More initial agents than maxAgents", details=[{
            "field": "initial_agents", "constraint": "max_agents", "value": count,
            "message": f"{count} agents requested, max_agents is {body.max_agents}"}])
    return count


def swarm_input(settings: Settings, spec: SwarmSpec, agent_config: dict[str, Any]) -> SwarmInput:
    templates = {name: AgentTemplate(capabilities=kind.capabilities, executor=kind.executor)
                 for name, kind in registry(settings.agent_types).items()}
    return SwarmInput(spec=spec, agent_types=templates, agent_config=agent_config,
                      heartbeat_timeout_s=settings.heartbeat_timeout_s, task_timeout_s=settings.default_step_timeout_s)


async def create_swarm(client: Client, settings: Settings, body: SwarmCreate, *, caller: Caller,
                       tier: str) -> SwarmState:
    """A swarm owned by the caller; the agents it spawns are the caller's too (and shared as it is)."""
    owner = caller.id
    spawning = _validate_agents(settings, body, caller)
    refuse_secrets(body.config, "config")
    shared = await asyncio.to_thread(check_shared_with, body.shared_with)
    if spawning:
        check_quota(tier, "agents", await asyncio.to_thread(live_agents_of, owner), spawning, settings=settings)
    spec = SwarmSpec(id=new_id("sw"), name=body.name, objective=body.objective, topology=body.topology,
                     strategy=body.strategy, max_agents=body.max_agents, auto_scale=body.auto_scale,
                     config=body.config,
                     initial_agents=[g.model_dump(exclude_none=True) for g in body.initial_agents],
                     tasks=[t if isinstance(t, str) else t.model_dump(mode="json") for t in body.tasks], owner=owner,
                     shared_with=shared or [], created_at=datetime.now(UTC))
    state = SwarmState(spec=spec, updated_at=spec.created_at)
    workflow_input = swarm_input(settings, spec, body.agent_config)
    check_workflow_input(workflow_input, "swarm")
    await asyncio.to_thread(seed_projection, SWARM_PROJECTION.kind, spec.id, state.model_dump(mode="json"),
                            "swarm.submitted", {"swarm_id": spec.id})
    try:
        await client.start_workflow(SWARM_WORKFLOW, workflow_input, id=spec.id,
                                    task_queue=settings.task_queue)
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the swarm: {err.message}") from None
    return state


def list_swarms(page: PageRequest) -> Page[SwarmState]:
    with session_scope() as session:
        rows = paginate(session, select(SwarmRow), page, sortable=SORTABLE, default="-createdAt",
                        id_column=SwarmRow.id, filterable=FILTERABLE)
        return rows.map(lambda row: SwarmState.model_validate(row.state))


async def _open(client: Client, swarm_id: str, caller: Caller, action: str = "change") -> SwarmState:
    """The swarm, if the caller may change it (403) and it is not terminated (409)."""
    state = await get_swarm(client, swarm_id)
    require_write(caller, state.spec.owner, "swarm", swarm_id, action)
    if state.status == SwarmStatus.terminated:
        raise Conflict(f"Swarm {swarm_id} is terminated")
    return state


async def update_swarm(client: Client, swarm_id: str, patch: SwarmPatch, *, caller: Caller) -> SwarmState:
    state = await _open(client, swarm_id, caller)
    if patch.config is not None:
        refuse_secrets(patch.config, "config")
    if patch.shared_with is not None:
        patch = patch.model_copy(update={"shared_with": await asyncio.to_thread(check_shared_with, patch.shared_with)})
    if patch.max_agents is not None and patch.max_agents < len(state.live_agents):
        raise ValidationFailed("maxAgents is below the current agent count", details=[{
            "field": "max_agents", "constraint": "minimum", "value": patch.max_agents,
            "message": f"the swarm has {len(state.live_agents)} agents; scale down first"}])
    return await update(client, swarm_id, SwarmHandlers.CONFIGURE, patch, SwarmState, "swarm")


async def control_swarm(client: Client, settings: Settings, swarm_id: str, request: ControlRequest,
                        *, caller: Caller, tier: str) -> ControlOutcome:
    if request.action not in CONTROL_ACTIONS:
        raise ValidationFailed("Unknown action", details=[{
            "field": "action", "constraint": "enum", "value": request.action, "allowed": list(CONTROL_ACTIONS),
            "message": f"must be one of: {', '.join(CONTROL_ACTIONS)}"}])
    state = await _open(client, swarm_id, caller, "control")
    if request.action == "scale":
        params = request.parameters
        agent_type = params.get("agent_type") or params.get("agentType")
        if not agent_type:
            raise ValidationFailed("scale needs an agent type", details=[{
                "field": "parameters.agent_type", "constraint": "required", "message": "field required"}])
        resolve(str(agent_type), settings.agent_types, field="parameters.agent_type")
        count = params.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1 or count > 1000:
            raise ValidationFailed("Invalid count", details=[{
                "field": "parameters.count", "constraint": "range", "value": count,
                "message": "must be an integer from 1 to 1000"}])
        operation = params.get("operation", "add")
        if operation not in ("add", "remove"):
            raise ValidationFailed("Invalid operation", details=[{
                "field": "parameters.operation", "constraint": "enum", "value": operation,
                "allowed": ["add", "remove"], "message": "must be add or remove"}])
        if operation == "add":  # the agents are the swarm owner's: they count against the owner's quota
            check_quota(tier, "agents", await asyncio.to_thread(live_agents_of, state.spec.owner), count,
                        settings=settings)
    return await update(client, swarm_id, SwarmHandlers.CONTROL, request, ControlOutcome, "swarm")


async def start_swarm_operation(client: Client, swarm_id: str, action: str, *, caller: Caller,
                                graceful: bool = True, timeout_s: float = 30.0) -> str:
    """`start` (resume) or `stop` (pause; graceful waits for running tasks): accepted at once (202), finished by
    the swarm, which marks the operation succeeded when done (`GET /api/v2/operations/{id}`)."""
    await _open(client, swarm_id, caller, action)
    operation_id = await asyncio.to_thread(start_operation, f"swarm.{action}", "swarm", swarm_id, caller.id)
    handle = client.get_workflow_handle(swarm_id)
    try:
        if action == "start":
            await handle.start_update(SwarmHandlers.CONTROL, ControlRequest(action="resume", operation_id=operation_id),
                                      wait_for_stage=WorkflowUpdateStage.ACCEPTED, result_type=ControlOutcome)
        else:
            await handle.start_update(SwarmHandlers.STOP, StopRequest(graceful=graceful, timeout_s=timeout_s,
                                                          operation_id=operation_id),
                                      wait_for_stage=WorkflowUpdateStage.ACCEPTED, result_type=ControlOutcome)
    except Exception as err:  # noqa: BLE001 - the update was refused: the operation failed
        await asyncio.to_thread(finish_operation, operation_id, status="failed", error=rejection(err))
        raise Conflict(rejection(err)) from None
    return operation_id


async def delete_swarm(client: Client, swarm_id: str, *, caller: Caller, force: bool) -> SwarmState:
    state = await get_swarm(client, swarm_id)
    require_write(caller, state.spec.owner, "swarm", swarm_id, "delete")
    if state.status == SwarmStatus.terminated:
        return state
    await update(client, swarm_id, SwarmHandlers.STOP, StopRequest(graceful=not force, timeout_s=0 if force else 30,
                                                       terminate=True, force=force), ControlOutcome, "swarm")
    return await get_swarm(client, swarm_id)


async def broadcast(client: Client, swarm_id: str, directive: Directive, *, caller: Caller) -> int:
    await _open(client, swarm_id, caller, "broadcast to")
    return await update(client, swarm_id, SwarmHandlers.BROADCAST, directive, int, "swarm")  # type: ignore[arg-type]


def task_timings(swarm_id: str) -> list[tuple[datetime | None, datetime | None, datetime | None, str]]:
    with session_scope() as session:
        rows = session.exec(select(TaskRow.queued_at, TaskRow.started_at, TaskRow.completed_at, TaskRow.status)
                            .where(TaskRow.swarm_id == swarm_id)).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def performance(swarm_id: str, agent_count: int) -> Performance:
    """From the tasks' recorded timeline (their events' projection); the figures and the rule for when a
    throughput may be shown are `figures.swarm_performance`."""
    perf = figures.swarm_performance(task_timings(swarm_id), agent_count)
    return Performance(throughput=perf.throughput, efficiency=perf.efficiency,
                       coordination_overhead=perf.coordination_overhead, window_s=perf.window_s,
                       finished=perf.finished)


async def swarm_status(client: Client, swarm_id: str) -> SwarmStatusReport:
    state = await get_swarm(client, swarm_id)
    live = state.live_agents
    workers = [a for a in live if a.role != "coordinator"] or live
    # Agents have no failed state (a failing task fails the task, not its agent), so no "failed" count is made up.
    agents = {"total": len(live), "active": sum(1 for a in live if a.load > 0),
              "idle": sum(1 for a in live if a.load == 0),
              "terminated": sum(1 for a in state.agents if a.status == AgentStatus.terminated)}
    in_progress = len(state.assigned)
    tasks = {"total": state.tasks_total, "completed": state.tasks_completed, "failed": state.tasks_failed,
             "cancelled": state.tasks_cancelled, "in_progress": in_progress, "pending": len(state.queue)}
    perf = await asyncio.to_thread(performance, swarm_id, len(workers))
    cpu = sum(a.total_ms for a in state.agents) / 1000
    health = "healthy"
    if state.status == SwarmStatus.terminated:
        health = "terminated"
    elif not live:
        health = "degraded"
    return SwarmStatusReport(
        state=state, agents=agents, tasks=tasks,
        progress=figures.task_progress(state),
        performance=perf, resource_usage={"agent_busy_s": round(cpu, 3)}, health=health,
    )


MAX_MEMBERS = 1000  # members returned per swarm and kind; the lists page through all of them


def _all(fetch: Any, filters: dict[str, str]) -> tuple[list[Any], int]:
    """Up to MAX_MEMBERS items of a list, oldest first, and how many there are in all."""
    found: list[Any] = []
    total = 0
    number = 1
    while len(found) < MAX_MEMBERS:
        page = fetch(PageRequest(number=number, size=MAX_PAGE_SIZE, sort=["createdAt"], filters=filters))
        found.extend(page.items)
        total = page.total
        if number >= page.page_count:
            break
        number += 1
    return found[:MAX_MEMBERS], total


def swarm_agents(swarm_id: str, *, caller: Caller) -> tuple[list[AgentState], int]:
    """The swarm's agents (terminated ones included), oldest first, at most MAX_MEMBERS, and the total."""
    return _all(lambda page: agent_service.list_agents(page, caller=caller), {"swarmId": swarm_id})


def swarm_tasks(swarm_id: str, *, caller: Caller) -> tuple[list[TaskState], int]:
    """The swarm's tasks (subtasks included), oldest first, at most MAX_MEMBERS, and the total."""
    return _all(lambda page: task_service.list_tasks(page, caller=caller, swarm_id=swarm_id), {})

