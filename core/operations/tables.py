"""The `operations` table. Rows are created by the service that answers 202 and ended by the resource's workflow
(through the record activity) or by the service when the request was refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from core.db import utcnow


class OperationRow(SQLModel, table=True):
    __tablename__ = "operations"
    id: str = Field(primary_key=True)
    kind: str
    resource_type: str
    resource_id: str = Field(index=True)
    status: str = "running"  # running | succeeded | failed
    owner: str | None = None
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
