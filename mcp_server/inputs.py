"""Tool arguments: pydantic models whose JSON Schemas are the tools' `inputSchema`.

Where a core service already has a create model (`SwarmCreate`, `AgentCreate`, `TaskCreate`) the tool's model
extends it, so MCP, REST and the services agree on every field and limit. Ids carry their shape as a pattern, so a
client learns from the schema what an id looks like, and a malformed one is refused before any service is asked.
Names follow dialect 1 (snake_case); `swarm_init` also takes the claude-flow spec's `maxAgents`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.agents.agents import AgentCreate
from core.agents.models import MAX_SWARM_AGENTS, Priority, Strategy, Topology
from core.agents.swarms import InitialAgents, InitialTask, SwarmCreate
from core.agents.tasks import TaskCreate
from core.listing import MAX_PAGE_SIZE
from core.memory.service import DEFAULT_NAMESPACE

_ULID = "[0-9A-HJKMNP-TV-Z]{26}"


def _id(prefix: str, what: str) -> Any:
    return Field(pattern=f"^{prefix}-{_ULID}$", description=f"the {what}'s id ({prefix}-…)")


SwarmId = Annotated[str, _id("sw", "swarm")]
AgentId = Annotated[str, _id("ag", "agent")]
TaskId = Annotated[str, _id("tk", "task")]
RunId = Annotated[str, Field(min_length=1, max_length=200, description="the run's id (run-…)")]
WorkflowId = Annotated[str, Field(min_length=1, max_length=200, description="the workflow definition's id")]
Namespace = Annotated[str, Field(min_length=1, max_length=64)]
Page = Annotated[int, Field(ge=1, le=10_000, description="page number, from 1")]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description=f"page size, at most {MAX_PAGE_SIZE}")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Empty(Strict):
    pass


class SwarmInit(Strict):
    """`topology` and `maxAgents` as in the claude-flow spec; the rest as `POST /api/swarms` takes it."""

    topology: Topology
    max_agents: int = Field(default=8, ge=1, le=MAX_SWARM_AGENTS, alias="maxAgents",
                            description="the most agents the swarm may hold (also accepted as max_agents)")
    name: str | None = Field(default=None, min_length=1, max_length=200,
                             description="defaults to `<topology> swarm`")
    objective: str | None = Field(default=None, max_length=10_000)
    strategy: Strategy = Strategy.balanced
    auto_scale: bool = False
    agent_config: dict[str, Any] = Field(
        default_factory=dict, description="config of every agent the swarm spawns, e.g. {\"executor\": \"shell\"}")
    initial_agents: list[InitialAgents] = Field(default_factory=list, max_length=100)
    tasks: list[str | InitialTask] = Field(default_factory=list, max_length=1000)
    shared_with: list[str] = Field(default_factory=list, description="users who may submit tasks into it")

    def to_domain(self) -> SwarmCreate:
        return SwarmCreate(name=self.name or f"{self.topology.value} swarm", objective=self.objective,
                           topology=self.topology, strategy=self.strategy, max_agents=self.max_agents,
                           auto_scale=self.auto_scale, agent_config=self.agent_config,
                           initial_agents=self.initial_agents, tasks=self.tasks, shared_with=self.shared_with)


class SwarmRef(Strict):
    swarm_id: SwarmId


class SwarmControl(Strict):
    """`scale` takes `parameters` {agent_type, count, operation: add | remove}; the others none."""

    swarm_id: SwarmId
    action: Literal["pause", "resume", "scale", "optimize", "rebalance"]
    parameters: dict[str, Any] = Field(default_factory=dict)


class AgentSpawn(AgentCreate):
    """An agent owned by the caller: `type` is one of the agent types (`coder`, `tester`, …, or the operator's)."""

    model_config = ConfigDict(extra="forbid")
    swarm_id: SwarmId | None = None

    def to_domain(self) -> AgentCreate:
        return AgentCreate.model_validate(self.model_dump())


class AgentList(Strict):
    status: str | None = Field(default=None, max_length=50, description="e.g. idle, busy, terminated")
    type: str | None = Field(default=None, max_length=100)
    swarm_id: SwarmId | None = None
    page: Page = 1
    limit: Limit = 20


class TaskCreateArgs(TaskCreate):
    """A task owned by the caller: in a swarm (which assigns it), for an agent (`agent_id`: assigned at once), or
    waiting for `task_assign`. A `shell` agent runs `requirements.command`."""

    model_config = ConfigDict(extra="forbid")
    swarm_id: SwarmId | None = None
    agent_id: AgentId | None = None

    def to_domain(self) -> TaskCreate:
        return TaskCreate.model_validate(self.model_dump(exclude={"agent_id"}))


class TaskRef(Strict):
    task_id: TaskId


class TaskAssign(Strict):
    task_id: TaskId
    agent_id: AgentId
    priority: Priority | None = Field(default=None, description="overrides the task's priority")


class MemoryStore(Strict):
    namespace: Namespace = DEFAULT_NAMESPACE
    key: str = Field(min_length=1, max_length=256)
    value: Any = Field(description="any JSON value")
    tags: list[str] = Field(default_factory=list, max_length=50)
    ttl: int | None = Field(default=None, ge=0, description="seconds until the entry expires; none: kept")
    access_level: Literal["private", "shared", "public"] | None = Field(
        default=None, description="who may read it (default: the store's default, shared)")


class MemoryGet(Strict):
    namespace: Namespace = DEFAULT_NAMESPACE
    key: str = Field(min_length=1, max_length=256)
    version: int | None = Field(default=None, ge=1, description="an older kept version")


class MemorySearch(Strict):
    query: str | None = Field(default=None, max_length=500, description='words, "phrases", prefix*, OR, -not')
    namespace: Namespace | None = None
    tags: list[str] = Field(default_factory=list, max_length=50, description="entries carrying every tag")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=10_000)


class WorkflowList(Strict):
    name: str | None = Field(default=None, max_length=200)
    status: str | None = Field(default=None, max_length=50)
    page: Page = 1
    limit: Limit = 20


class WorkflowValidate(Strict):
    definition: dict[str, Any] | str = Field(
        description="a workflow definition: a JSON object, or its YAML/JSON text (see the write_workflow prompt)")


class WorkflowRun(Strict):
    workflow_id: WorkflowId
    inputs: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, description="a pinned version; default: the latest")


class RunRef(Strict):
    run_id: RunId
    wait_s: float = Field(default=0, ge=0, le=30, description="wait up to this long for the run to change")


class RunLogs(Strict):
    run_id: RunId


class RunApprove(Strict):
    run_id: RunId
    step_id: str = Field(min_length=1, max_length=200)
    approved: bool = Field(default=True, description="false rejects the step")
    comment: str | None = Field(default=None, max_length=2000)
