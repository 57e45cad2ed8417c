"""The orchestrations projection (`orchestrations` table): written only through `core.events.store.record`, by
`core.orchestrations.projection`; read when the workflow has closed and by lists and estimates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from core.db import utcnow


class OrchestrationRow(SQLModel, table=True):
    __tablename__ = "orchestrations"
    __table_args__ = (Index("ix_orchestrations_owner_created", "owner", "created_at"),)
    id: str = Field(primary_key=True)
    status: str = Field(index=True)
    strategy: str
    swarm_id: str | None = None
    owner: str | None = None
    progress: float = 0.0
    seq: int = 0
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
