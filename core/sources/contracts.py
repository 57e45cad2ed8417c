"""What crosses SyncSourceWorkflow's boundary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SyncRequest(BaseModel):
    source_id: str
    reason: str = "requested"


class SyncResult(BaseModel):
    source_id: str
    commit: str | None = None
    created: list[str] = Field(default_factory=list)
    versioned: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list)  # {file, line, message}
    error: str | None = None  # the sync itself failed (clone, fetch)
