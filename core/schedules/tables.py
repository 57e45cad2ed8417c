"""Which Temporal Schedules exist for which workflow, and what each was last set to (a digest): lets `reconcile`
delete schedules a new version dropped, and skip updates that would change nothing."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.db import utcnow


class WorkflowScheduleRow(SQLModel, table=True):
    __tablename__ = "workflow_schedules"
    schedule_id: str = Field(primary_key=True)
    workflow_id: str = Field(index=True)
    position: int  # n: the n-th schedule trigger of the definition (0-based)
    version: int
    digest: str
    updated_at: datetime = Field(default_factory=utcnow)
