"""Dialect 1 (`/api/swarms`): create and list swarms, read their status, control them (pause, resume, scale,
optimize, rebalance) and broadcast directives to their agents, with the claude-flow spec's plain bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClientDep, PageV1Dep, Principal, SettingsDep, require
from api.presenters import agents as present
from api.presenters import v1
from api.routes.entity_common import CONFLICT, checked, drop_none
from core.agents import swarms
from core.agents.contracts import ControlRequest
from core.agents.models import Priority, Strategy, Topology
from core.agents.state import Directive

router = APIRouter(prefix="/api/swarms", tags=["swarms (dialect 1)"])

MAX_AGENTS = 100  # dialect 2 documents "Must not exceed 100" for maxAgents; one bound for both dialects

EXAMPLE_CREATE = {
    "name": "Microservices Development", "objective": "Build microservices architecture", "topology": "mesh",
    "config": {"max_agents": 10, "auto_scale": True, "fault_tolerance": "high", "communication_protocol": "async"},
    "initial_agents": [{"type": "architect", "count": 1}, {"type": "backend-dev", "count": 3},
                       {"type": "tester", "count": 2}],
    "tasks": ["Design system architecture", "Implement user service", "Implement order service",
              "Create API gateway", "Setup monitoring"],
}


class SwarmConfigV1(BaseModel):
    """`max_agents`, `auto_scale` and `strategy` steer the swarm; anything else (`fault_tolerance`,
    `communication_protocol`, …) is kept as the swarm's configuration and shown back."""

    model_config = ConfigDict(extra="allow")
    max_agents: int = Field(default=8, ge=1, le=MAX_AGENTS)
    auto_scale: bool = False
    strategy: Strategy | None = None


class InitialAgent(BaseModel):
    """A group of agents the swarm spawns at start. `config` is merged over the swarm's `agent_config`."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=100)
    count: int = Field(default=1, ge=1, le=MAX_AGENTS)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    capabilities: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class SwarmTask(BaseModel):
    """A task the swarm creates at start (a plain string is its description)."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(default="", max_length=100_000)
    type: str | None = Field(default=None, max_length=200)
    priority: Priority = Priority.medium
    requirements: dict[str, Any] = Field(default_factory=dict)


class SwarmCreateV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    name: str = Field(min_length=1, max_length=200)
    objective: str | None = Field(default=None, max_length=10_000)
    topology: Topology = Topology.mesh
    strategy: Strategy = Strategy.balanced
    config: SwarmConfigV1 = Field(default_factory=SwarmConfigV1)
    agent_config: dict[str, Any] = Field(
        default_factory=dict, description="config of every agent the swarm spawns, e.g. {\"executor\": \"shell\"}")
    initial_agents: list[InitialAgent] = Field(default_factory=list, max_length=100)
    tasks: list[Annotated[str, Field(max_length=100_000)] | SwarmTask] = Field(default_factory=list,
                                                                              max_length=1000)


class ControlV1(BaseModel):
    """`scale` takes `parameters` {agent_type, count, operation: add | remove}; the others none."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "scale", "parameters": {"agent_type": "backend-dev", "count": 2, "operation": "add"}}]})
    action: Literal["pause", "resume", "scale", "optimize", "rebalance"]
    parameters: dict[str, Any] = Field(default_factory=dict)


class MessageV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(default="directive", max_length=100)
    content: str = Field(min_length=1, max_length=100_000)
    target: str = Field(default="all", max_length=200, description="all, an agent id, an agent type or a role")
    priority: Priority = Priority.medium


class BroadcastV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": {"type": "directive", "content": "Switch to high-priority mode", "target": "all",
                     "priority": "high"}}]})
    message: MessageV1


def to_domain(body: SwarmCreateV1) -> swarms.SwarmCreate:
    config = body.config.model_dump()
    max_agents, auto_scale, strategy = config.pop("max_agents"), config.pop("auto_scale"), config.pop("strategy")
    return swarms.SwarmCreate(
        name=body.name, objective=body.objective, topology=body.topology, strategy=strategy or body.strategy,
        max_agents=max_agents, auto_scale=auto_scale, config=config, agent_config=body.agent_config,
        initial_agents=[drop_none(group.model_dump()) for group in body.initial_agents],
        tasks=[item if isinstance(item, str) else item.model_dump(mode="json") for item in body.tasks],
    )


@router.get("")
def list_swarms(page: PageV1Dep, _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """Filters: `status`, `topology`, `strategy`. Sort: `created_at` (default), `name`, `status`, `updated_at`."""
    result = swarms.list_swarms(page)
    return v1.paged("swarms", [present.swarm_v1(state) for state in result.items], result)


@router.post("", status_code=201)
async def create_swarm(body: SwarmCreateV1, client: ClientDep, settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> JSONResponse:
    """The swarm spawns its initial agents and tasks once it runs; `agents` fills in as they join."""
    state = await swarms.create_swarm(client, settings, to_domain(body), owner=principal.id, tier=principal.tier)
    return JSONResponse(present.swarm_v1(state), status_code=201,
                        headers={"Location": f"/api/swarms/{state.spec.id}/status"})


@router.get("/{swarm_id}/status")
async def swarm_status(swarm_id: str, client: ClientDep,
                       _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    return present.swarm_status_v1(await swarms.swarm_status(client, checked("swarm", swarm_id)))


@router.post("/{swarm_id}/control", responses=CONFLICT)
async def control_swarm(swarm_id: str, body: ControlV1, client: ClientDep, settings: SettingsDep,
                        principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> dict:
    """Answers when the swarm has applied the action; `result` says what it did (agents added or removed, the
    topology optimize chose and what it measured, the agents rebalance asked to hand work back)."""
    request = ControlRequest(action=body.action, parameters=body.parameters)
    outcome = await swarms.control_swarm(client, settings, checked("swarm", swarm_id), request,
                                         owner=principal.id, tier=principal.tier)
    return present.control_v1(swarm_id, outcome)


@router.post("/{swarm_id}/broadcast", responses=CONFLICT)
async def broadcast(swarm_id: str, body: BroadcastV1, client: ClientDep,
                    principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> dict:
    """Every live agent the `target` matches gets the directive; an LLM or agent-CLI agent passes the latest
    ones to its next tasks. `recipients` is how many it reached."""
    message = body.message
    directive = Directive(type=message.type, content=message.content, target=message.target,
                          priority=message.priority, by=principal.username)
    recipients = await swarms.broadcast(client, checked("swarm", swarm_id), directive)
    return present.broadcast_v1(swarm_id, directive, recipients)
