"""`GET /api/workflows` and `GET /api/runs` (api/dialect1/presenters/workflows.py, runs.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.dialect1.schemas.responses.common import Open, Paged, Timestamp


class WorkflowStatsV1(Open):
    total_runs: int
    success_rate: float | None
    average_duration_ms: int | None


class WorkflowV1(Open):
    id: str
    name: str
    description: str | None
    status: str
    version: int
    content_hash: str
    source: str
    owner: str | None
    shared_with: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    stats: WorkflowStatsV1


class WorkflowListV1(Paged):
    workflows: list[WorkflowV1]


class StartedBy(Open):
    id: str
    username: str


class RunV1(Open):
    id: str
    workflow_id: str
    version: int
    status: Literal["pending", "running", "succeeded", "failed", "cancelled"]
    started_by: StartedBy | None
    inputs: dict[str, Any] | None = Field(description="null when withheld (named in `redacted`)")
    created_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    duration_ms: int | None
    error: str | None
    summary: dict[str, int] = Field(description="steps per status")
    redacted: list[str] | None = None


class RunListV1(Paged):
    runs: list[RunV1]
