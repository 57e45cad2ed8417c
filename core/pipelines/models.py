"""A pipeline run's state as PipelineWorkflow holds it, its status query returns it, and the projection keeps it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class StepStatus(StrEnum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"
    cancelled = "cancelled"


TERMINAL_STEP = frozenset(
    {StepStatus.succeeded, StepStatus.failed, StepStatus.skipped, StepStatus.cancelled}
)


class RunStatus(StrEnum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_RUN = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled})


class StepState(BaseModel):
    id: str
    name: str | None = None
    action: str
    status: StepStatus = StepStatus.pending
    attempts: int = 0
    startedAt: datetime | None = None
    endedAt: datetime | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    reason: str | None = Field(default=None, description="why a step was skipped or cancelled")
    approval: dict[str, Any] | None = None
    instances: list[StepState] | None = Field(default=None, description="fan-out instances (forEach/matrix)")
    reusedFrom: str | None = Field(default=None, description="a re-run's step not executed again: the run whose "
                                   "recorded outputs it reuses")
    childRunId: str | None = Field(default=None, description="a run-workflow step's sub-workflow run")
    artifacts: dict[str, Any] | None = Field(default=None, description="files the step stored: name -> "
                                             "{id, url, size, sha256, path}")
    concurrency: dict[str, Any] | None = Field(default=None, description="the step's concurrency group: "
                                               "{group, state: queued|holding|released, position}")


class RunStarter(BaseModel):
    """Who started a run: its owner for cancelling, and the one who may not approve it (core/access.py)."""

    id: str
    username: str


class RunState(BaseModel):
    id: str
    workflowId: str
    version: int
    startedBy: RunStarter | None = None  # None: started before runs recorded their starter
    status: RunStatus = RunStatus.pending
    inputs: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepState] = Field(default_factory=list)
    startedAt: datetime | None = None
    endedAt: datetime | None = None
    error: str | None = None
    trigger: dict[str, Any] | None = Field(default=None, description="what started the run: {type, schedule, "
                                           "delivery, event, workflowRunId}")
    rerunOf: str | None = None
    parentRunId: str | None = None
    concurrency: dict[str, Any] | None = None

    def step(self, step_id: str) -> StepState:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
