"""What crosses the boundaries of PipelineWorkflow: its input, the approval Update, and what it hands the action
activities and gets back. Plain data: the workflow owns the logic."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field

from core.events.models import Event
from core.pipelines.models import RunState

# Handlers of PipelineWorkflow that services call by name.
STATUS_QUERY: Final = "status"
DECIDE_APPROVAL_UPDATE: Final = "decide_approval"


class PipelineInput(BaseModel):
    run_id: str
    workflow_id: str
    version: int
    definition: dict[str, Any]
    inputs: dict[str, Any] = Field(default_factory=dict)
    heartbeat_timeout_s: float = 30.0
    default_timeout_s: float = 3600.0
    link: str | None = None


class ApprovalDecision(BaseModel):
    step_id: str
    approved: bool
    by: str | None = None
    comment: str | None = None


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
    sandbox: dict[str, Any] | None = Field(default=None, description="the step's `sandbox:` (dsl.models.SandboxSpec)")


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


class LegacyRunRecord(BaseModel):
    """The payload of the `record_run` activity, which runs started before the one record activity still call."""

    run: RunState
    seq: int
    events: list[Event] = Field(default_factory=list)
