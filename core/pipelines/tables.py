"""Tables of the pipeline domain: definitions and their versions, the runs' projection, and deployment slots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from core.db import utcnow


class WorkflowRow(SQLModel, table=True):
    __tablename__ = "workflows"
    id: str = Field(primary_key=True)
    name: str
    description: str | None = None
    version: int = 1
    content_hash: str
    source: str = "api"  # "api" or "file:<path>"
    status: str = "active"  # active | deleted
    # Added after the first tables were created: nullable, so core/schema.py can add them to an existing database.
    owner: str | None = Field(default=None, index=True)  # user id; "system" for files; None: made before owners
    shared_with: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # usernames
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WorkflowVersionRow(SQLModel, table=True):
    __tablename__ = "workflow_versions"
    workflow_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    content_hash: str
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    # Definitions synced from git (core/sources): where this version came from (added later: nullable).
    source_commit: str | None = None
    source_path: str | None = None


class RunRow(SQLModel, table=True):
    """Projection of one PipelineWorkflow run, overwritten by newer snapshots only (`seq` grows)."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_workflow_created", "workflow_id", "created_at"),)
    id: str = Field(primary_key=True)
    workflow_id: str = Field(index=True)
    version: int
    status: str = Field(index=True)
    seq: int = 0
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    started_by: str | None = Field(default=None, index=True)  # user id (added later: nullable)
    rerun_of: str | None = Field(default=None, index=True)  # the run a re-run repeats (added later: nullable)


class DeploymentRow(SQLModel, table=True):
    """Which blue-green slot is live per environment, and what was last deployed there."""

    __tablename__ = "deployments"
    environment: str = Field(primary_key=True)
    live_slot: str | None = None
    version: str | None = None
    run_id: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)
