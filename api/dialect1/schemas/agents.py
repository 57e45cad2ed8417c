"""`POST /api/agents`, `PUT /api/agents/{id}`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames
from core.agents.agents import AgentCreate
from core.agents.contracts import AgentPatch

EXAMPLE_CREATE = {"type": "coder", "name": "Coder-Beta", "capabilities": ["code_generation", "testing"],
                  "config": {"model": "claude-3-sonnet", "temperature": 0.7, "max_tokens": 4000},
                  "metadata": {"project": "api-v2", "team": "backend"}}
EXAMPLE_UPDATE = {"name": "Coder-Alpha-Updated", "config": {"temperature": 0.8, "max_tokens": 5000},
                  "metadata": {"priority": "high"}}


class AgentCreateV1(BaseModel):
    """`config` is the agent's own (model, temperature, … and `executor`: shell | llm | agent-cli | python);
    it is echoed back, so secrets go in by environment-variable name (`api_key_env`), never by value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    type: str = Field(min_length=1, max_length=100, description="an agent type; an unknown one is a 400 listing them")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    capabilities: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    swarm_id: str | None = Field(default=None, max_length=100, description="join this swarm")
    shared_with: Usernames = Field(default_factory=list, description="users who may read its config and assign "
                                                                      "tasks to it")

    def to_domain(self) -> AgentCreate:
        return AgentCreate(**self.model_dump())


class AgentUpdateV1(BaseModel):
    """`config` and `metadata` are merged over the current ones; `shared_with` replaces the current list."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_UPDATE]})
    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    capabilities: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)
    shared_with: Usernames | None = None

    def to_domain(self) -> AgentPatch:
        return AgentPatch(**self.model_dump())
