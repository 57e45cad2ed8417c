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
from core.github.service import AnalyzeBody, EnhanceBody
from core.listing import MAX_PAGE_SIZE
from core.memory.service import DEFAULT_NAMESPACE
from core.neural.models import TrainRequest
from core.orchestrations.service import OrchestrationCreate

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


# ---- orchestrations, GitHub, neural -----------------------------------------------------------------------------

OrchestrationId = Annotated[str, _id("orch", "orchestration")]
AnalysisId = Annotated[str, _id("gh-analysis", "analysis")]
TrainingId = Annotated[str, _id("train", "training")]


class Orchestrate(OrchestrationCreate):
    """`POST /api/v2/tasks/orchestrate` in the service's names: `phases` each with `name`, `agents` (one agent type
    per slot), optional `duration_s`, `requirements` (every slot's, e.g. a shell agent's `command`) and `tasks`
    (one per slot); `max_duration_s` and `required_capabilities` are the spec's `constraints`."""

    model_config = ConfigDict(extra="forbid")
    swarm_id: SwarmId | None = None

    def to_domain(self) -> OrchestrationCreate:
        return OrchestrationCreate.model_validate(self.model_dump())


class OrchestrationRef(Strict):
    orchestration_id: OrchestrationId


class GitHubAnalyze(Strict):
    """`POST /api/v2/github/repos/analyze` in snake_case."""

    repository: str = Field(min_length=3, max_length=200, description="owner/name on the server's GitHub")
    analysis_types: list[Literal["code-quality", "security", "performance"]] = Field(
        default_factory=lambda: ["code-quality", "security", "performance"], min_length=1, max_length=3)
    branch: str | None = Field(default=None, max_length=250, description="default: the repository's default branch")
    depth: Literal["shallow", "full"] | None = None

    def to_domain(self) -> AnalyzeBody:
        return AnalyzeBody(repository=self.repository, analysisType=list(self.analysis_types), branch=self.branch,
                           depth=self.depth)


class GitHubAnalysisRef(Strict):
    analysis_id: AnalysisId


class GitHubPrEnhance(Strict):
    """`POST /api/v2/github/pr/{pr_number}/enhance` in snake_case; `enhancements` by the spec's names
    (securityReview, improveDescription, addTests, updateDocumentation, performanceOptimization)."""

    repository: str = Field(min_length=3, max_length=200, description="owner/name on the server's GitHub")
    pr_number: int = Field(ge=1, le=10**9)
    enhancements: dict[str, bool] = Field(default_factory=lambda: {"securityReview": True})
    auto_commit: bool = False

    def to_domain(self) -> EnhanceBody:
        return EnhanceBody(repository=self.repository, enhancements=self.enhancements, autoCommit=self.auto_commit)


class NeuralTrain(TrainRequest):
    """`POST /api/v2/neural/train` in the service's names: `samples` of `{input, output}` (text outputs are
    classified, numbers regressed), or `source: history` (StellarFlow's own finished tasks); `config` holds epochs,
    learning_rate, batch_size, hidden_layers, seed; `model_id` trains a new version of your model."""

    model_config = ConfigDict(extra="forbid")

    def to_domain(self) -> TrainRequest:
        return TrainRequest.model_validate(self.model_dump())


class TrainingRef(Strict):
    training_id: TrainingId


class NeuralPredict(Strict):
    model_id: str = Field(pattern=f"^model-{_ULID}$", description="the model's id (model-…)")
    version: int | None = Field(default=None, ge=1, description="a version; default: the latest")
    input: dict[str, Any] = Field(description="the features, named as in the model's training samples")
