"""Projection tables of agents, tasks and swarms (list views filter, sort and count these).
Written only through `core.events.store.record`, by the writers in `core.agents.projection`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from core.db import utcnow


class AgentRow(SQLModel, table=True):
    __tablename__ = "agents"
    __table_args__ = (Index("ix_agents_swarm_created", "swarm_id", "created_at"),)
    id: str = Field(primary_key=True)
    name: str
    type: str = Field(index=True)
    status: str = Field(index=True)
    role: str = "worker"
    swarm_id: str | None = None
    owner: str | None = Field(default=None, index=True)
    current_task_id: str | None = None
    tasks_completed: int = 0
    tasks_failed: int = 0
    seq: int = 0
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TaskRow(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_swarm_created", "swarm_id", "created_at"),
        Index("ix_tasks_owner_created", "owner", "created_at"),
        Index("ix_tasks_similar_done", "similarity", "status", "completed_at"),
    )
    id: str = Field(primary_key=True)
    type: str | None = Field(default=None, index=True)
    description: str = ""
    status: str = Field(index=True)
    priority: str = "medium"
    priority_rank: int = 1
    swarm_id: str | None = None
    agent_id: str | None = Field(default=None, index=True)
    parent_id: str | None = None
    owner: str | None = None
    similarity: str | None = None  # what makes tasks alike for estimates: their type, or else their command
    progress: float = 0.0
    duration_ms: int | None = None
    wait_ms: int | None = None  # queued → started
    seq: int = 0
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    queued_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class SwarmRow(SQLModel, table=True):
    __tablename__ = "swarms"
    id: str = Field(primary_key=True)
    name: str
    topology: str = Field(index=True)
    strategy: str
    status: str = Field(index=True)
    max_agents: int
    owner: str | None = Field(default=None, index=True)
    seq: int = 0
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
