"""The artifacts' metadata; their bytes are in the artifact store (core/artifacts/store.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.db import utcnow


class ArtifactRow(SQLModel, table=True):
    __tablename__ = "artifacts"
    id: str = Field(primary_key=True)  # art-…, derived from where it came from: a retried store writes it once
    run_id: str | None = Field(default=None, index=True)
    task_id: str | None = Field(default=None, index=True)
    workflow_id: str | None = None
    step_id: str | None = None
    name: str
    path: str  # relative to the run's (or task's) workspace
    size: int
    sha256: str
    content_type: str = "application/octet-stream"
    owner: str | None = None  # the run's starter or the task's owner
    storage_key: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = Field(default=None, index=True)
