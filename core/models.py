"""Domain models shared by workflows, activities, services and both API presenters."""

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


class RunState(BaseModel):
    id: str
    workflowId: str
    version: int
    status: RunStatus = RunStatus.pending
    inputs: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepState] = Field(default_factory=list)
    startedAt: datetime | None = None
    endedAt: datetime | None = None
    error: str | None = None

    def step(self, step_id: str) -> StepState:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


class RunEvent(BaseModel):
    """One entry of the append-only event log. `seq` is assigned by the emitting workflow, so a retried
    write of the same event is recognised and not appended twice."""

    seq: int
    type: str
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


# ---- workflow ⇄ activity contracts -------------------------------------------------------------------


class ActionRequest(BaseModel):
    run_id: str
    step_id: str
    instance: str | None = None
    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = None
    retry_failures: bool = Field(default=False, description="a failed outcome may be retried by policy")
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)


class ActionResult(BaseModel):
    outputs: dict[str, Any] = Field(default_factory=dict)
    attempt: int = 1
    warnings: list[str] = Field(default_factory=list)


class NotificationRequest(BaseModel):
    run_id: str
    workflow_id: str
    workflow_name: str
    event: str
    channels: list[str]
    message: str
    status: str | None = None
    link: str | None = None


class ChannelOutcome(BaseModel):
    channel: str
    ok: bool
    detail: str | None = None


class RecordRequest(BaseModel):
    """Events plus the run's projection snapshot, written in one transaction by `record_run`."""

    run: RunState
    seq: int
    events: list[RunEvent] = Field(default_factory=list)
