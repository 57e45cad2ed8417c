"""Request value types both dialects accept in the same shape, and small helpers for turning requests into
service inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.agents.models import MAX_SWARM_AGENTS, Priority


def _utc(moment: datetime) -> datetime:
    """A time without an offset is UTC; every time is stored in UTC. The workflows compare deadlines with their
    own (aware) clock, so a naive one must not get through; an offset that leaves the calendar is a 400."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError) as err:
        raise ValueError(f"not a representable UTC time: {err}") from None


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# `shared_with` / `sharedWith`: the users an owner shares an object with (docs/access.md); checked to exist.
Usernames = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=100)]
AccessLevel = Literal["private", "shared", "public"]  # who may read a memory entry


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class InitialAgent(BaseModel):
    """A group of agents the swarm spawns at start. `config` is merged over the swarm's `agent_config`."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=100)
    count: int = Field(default=1, ge=1, le=MAX_SWARM_AGENTS)
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


# A swarm's tasks at creation, in both dialects: descriptions, or task objects.
SwarmTasks = list[Annotated[str, Field(max_length=100_000)] | SwarmTask]


def initial_agents(groups: list[InitialAgent]) -> list[dict[str, Any]]:
    """The groups as the swarm service takes them (unset fields left out, so the swarm's defaults apply)."""
    return [drop_none(group.model_dump()) for group in groups]


def initial_tasks(items: SwarmTasks) -> list[str | dict[str, Any]]:
    return [item if isinstance(item, str) else item.model_dump(mode="json") for item in items]
