"""What crosses the boundaries of PipelineWorkflow: its input, the approval Update, and what it hands the action
activities and gets back. Plain data: the workflow owns the logic."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field

from core.events.models import Event
from core.pipelines.models import RunStarter, RunState, StepState

# Handlers of PipelineWorkflow that services and other workflows call by name.
STATUS_QUERY: Final = "status"
DECIDE_APPROVAL_UPDATE: Final = "decide_approval"
CONCURRENCY_UPDATE_SIGNAL: Final = "concurrency_update"  # from a concurrency group (core/concurrency)
# The type of the failure a failed run ends its workflow with (its details: the run's final state).
RUN_FAILED_TYPE: Final = "RunFailed"


class TriggerInfo(BaseModel):
    """What started a run: `api` (a person or client through the API), `schedule` (a Temporal Schedule of the
    workflow), `github` / `webhook` (a delivery), `rerun`, `workflow` (a parent run's run-workflow step)."""

    type: str = "api"
    schedule: str | None = None  # schedule id
    delivery: str | None = None  # webhook delivery id
    event: str | None = None  # GitHub event name
    github: dict[str, Any] = Field(default_factory=dict, description="`{{ github.* }}`: event, ref, sha, …")
    payload: Any = Field(default=None, description="a generic webhook's JSON body: `{{ webhook.payload }}`")

    def summary(self) -> dict[str, Any]:
        """The trigger as the run's state shows it (no payloads)."""
        data: dict[str, Any] = {"type": self.type}
        for key in ("schedule", "delivery", "event"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


class PipelineInput(BaseModel):
    run_id: str
    workflow_id: str
    version: int
    definition: dict[str, Any]
    inputs: dict[str, Any] = Field(default_factory=dict)
    heartbeat_timeout_s: float = 30.0
    default_timeout_s: float = 3600.0
    link: str | None = None
    started_by: RunStarter | None = None
    # Added with triggers, re-runs, sub-workflows and concurrency groups; all default to what a plain run had.
    owner: str | None = None  # the workflow's owner: concurrency groups are per owner
    trigger: TriggerInfo | None = None
    ui_base: str | None = None  # `<ui>/namespaces/<ns>/workflows/`: the link of a run whose id Temporal chose
    rerun_of: str | None = None
    reuse: dict[str, StepState] = Field(default_factory=dict, description="a re-run's steps not executed again")
    parent_run_id: str | None = None
    depth: int = 0  # how deep in run-workflow calls this run is (0: not a sub-workflow)
    max_depth: int = 5


class ApprovalDecision(BaseModel):
    """An approve or reject, naming who decided: the workflow's validator checks that user against the step's
    approvers and the run's starter, and the Update's arguments keep it in the history."""

    step_id: str
    approved: bool
    by: str | None = None  # username ("timeout" when the step timed out)
    comment: str | None = None
    by_id: str | None = None
    by_role: str | None = None


class ActionRequest(BaseModel):
    run_id: str
    step_id: str
    instance: str | None = None
    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    template_env: dict[str, str] = Field(
        default_factory=dict,
        description="the templated values of a shell command (`SF_1`, `SF_2`, …), which the command refers to as "
        "variables: data handed to the process's environment, never spliced into the shell text",
    )
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


class ChildRunRequest(BaseModel):
    """A run-workflow step asks for its sub-workflow: which workflow (`id` or `id@version`), with which inputs; the
    `resolve_child_run` activity answers with the child's input (a new run id, the pinned definition)."""

    parent_run_id: str
    parent_workflow_id: str
    step_id: str
    workflow: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    started_by: RunStarter | None = None
    depth: int
    max_depth: int
    heartbeat_timeout_s: float = 30.0
    default_timeout_s: float = 3600.0


class ChildRunPlan(BaseModel):
    input: PipelineInput
    summary: str
    details: str
    name: str


class ArtifactRequest(BaseModel):
    """Store the files a step declared (`artifacts: {paths, retention}`) from the run's workspace."""

    run_id: str
    workflow_id: str
    step_id: str
    instance: str | None = None
    paths: list[str]
    retention_s: float | None = None
    owner: str | None = None  # the run's starter


class StoredArtifact(BaseModel):
    id: str
    name: str
    path: str
    size: int
    sha256: str
    url: str
