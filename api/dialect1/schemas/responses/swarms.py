"""`/api/swarms` bodies (api/dialect1/presenters/swarms.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.dialect1.schemas.responses.common import Open, Paged, Timestamp
from api.dialect1.schemas.responses.tasks import PriorityV1

SwarmStatusV1 = Literal["initializing", "active", "paused", "terminated"]
TopologyV1 = Literal["hierarchical", "star", "centralized", "mesh", "ring"]
StrategyV1 = Literal["specialized", "balanced", "adaptive"]


class SwarmMember(Open):
    id: str
    role: str
    type: str


class SwarmV1(Open):
    """A list item, also the body of `POST /api/swarms` (agents join as the swarm spawns them)."""

    id: str = Field(examples=["sw-01J9Z6X1QH5V2M8T4K7W3R0ABC"])
    name: str
    topology: TopologyV1
    strategy: StrategyV1
    status: SwarmStatusV1
    objective: str | None
    owner: str | None
    shared_with: list[str]
    agents: list[SwarmMember]
    progress: float
    config: dict[str, Any] = Field(description="the swarm's config with `max_agents` and `auto_scale`")
    created_at: Timestamp | None
    updated_at: Timestamp | None


class SwarmListV1(Paged):
    swarms: list[SwarmV1]


class PerformanceV1(Open):
    throughput: float | None = Field(description="tasks per minute; null until measured over ≥ 60 s, ≥ 10 tasks")
    efficiency: float | None
    coordination_overhead: float | None
    window: float | None = Field(description="seconds the figures are measured over")
    window_tasks: int


class SwarmResourceUsage(Open):
    cpu: None = Field(description="not sampled: always null")
    memory: None = Field(description="not sampled: always null")
    network: None = Field(description="not sampled: always null")


class SwarmStatusV1Body(Open):
    id: str
    status: SwarmStatusV1
    health: str
    topology: TopologyV1
    strategy: StrategyV1
    agents: dict[str, int] = Field(description="agents per status, with a total")
    tasks: dict[str, int] = Field(description="tasks per status, with a total")
    progress: float
    performance: PerformanceV1
    resource_usage: SwarmResourceUsage = Field(description="plus the measured `agent_busy_s`")
    last_update: Timestamp | None


class SwarmControlV1(Open):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "swarm_id": "sw-01J9Z6X1QH5V2M8T4K7W3R0ABF", "action": "scale", "status": "active",
        "result": {"added": ["ag-01J9Z6X1QH5V2M8T4K7W3R0ABG", "ag-01J9Z6X1QH5V2M8T4K7W3R0ABH"]}}]})
    swarm_id: str
    action: str
    status: SwarmStatusV1
    result: dict[str, Any] = Field(description="what the action did (agents added or removed, the topology chosen…)")


class BroadcastMessageV1(Open):
    type: str
    content: str
    target: str
    priority: PriorityV1


class BroadcastV1Body(Open):
    swarm_id: str
    recipients: int = Field(ge=0, description="live agents the directive reached")
    message: BroadcastMessageV1
