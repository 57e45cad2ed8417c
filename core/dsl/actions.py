"""The action registry: each action's parameter model. Validation, the JSON Schema and the worker all
read this one table, so an action added here is known everywhere."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.dsl.durations import Duration
from core.pipelines.approvals import approver_problem


class ActionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    # Parameters that must be written out in the definition: no template, so no run input or step output sets them.
    LITERAL: ClassVar[frozenset[str]] = frozenset()


class ExecuteCommandParams(ActionParams):
    """`command` is a shell string (run by /bin/sh -c) or an argv list (no shell). Templated values in a
    shell string reach the command as environment variables (`"${SF_1}"`), never as shell text."""

    command: str | list[str] = Field(description="shell string, or argv list run without a shell")
    timeout: Duration | None = None
    env: dict[str, str] = Field(default_factory=dict)
    workingDirectory: str | None = Field(default=None, description="relative to the run's workspace")


class HttpRequestParams(ActionParams):
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    expectStatus: list[int] | None = Field(default=None, description="accepted statuses; default any 2xx")
    timeout: Duration | None = None


class WaitParams(ActionParams):
    duration: Duration


class ApprovalParams(ActionParams):
    """Waits for a decision (`POST /api/v2/runs/{id}/steps/{step}/approve|reject`). `approvers`: usernames and/or
    `role:<role>` (empty: anyone who may run workflows); the starter may not approve their own run unless
    `allowSelfApproval`. Both are written out, never templated (core/pipelines/approvals.py)."""

    LITERAL: ClassVar[frozenset[str]] = frozenset({"approvers", "allowSelfApproval"})

    message: str | None = None
    timeout: Duration | None = None
    onTimeout: Literal["reject", "approve"] = "reject"
    approvers: list[str] = Field(default_factory=list, max_length=100,
                                 description='usernames and/or role:<role>, e.g. ["alice", "role:admin"]')
    allowSelfApproval: bool = Field(default=False, description="the run's starter may approve their own run")

    @field_validator("approvers")
    @classmethod
    def _known_form(cls, approvers: list[str]) -> list[str]:
        for entry in approvers:
            problem = approver_problem(entry)
            if problem is not None:
                raise ValueError(problem)
        return approvers


class DeployParams(ActionParams):
    environment: str
    strategy: Literal["rolling", "blue-green", "recreate"] = "rolling"
    version: str | None = None


class NotifyParams(ActionParams):
    channels: list[Literal["slack", "webhook", "email"]]
    message: str


class MemoryStoreParams(ActionParams):
    """Store a value in shared memory (core/memory): a new entry, or a new version of the key. Entries written by
    pipelines belong to the `system` owner and count against no user's quota."""

    key: str = Field(description="letters, digits, _ . : @ -, and / between path segments")
    value: Any = Field(description="any JSON (templates render to strings)")
    namespace: str = "default"
    ttl: int | None = Field(default=None, ge=0, description="seconds until it expires; omit or 0 to keep it")
    tags: list[str] = Field(default_factory=list)
    accessLevel: Literal["private", "shared", "public"] | None = None


class MemoryReadParams(ActionParams):
    """Read a value from shared memory into the step's outputs (`value`, `version`, `found`)."""

    key: str
    namespace: str = "default"
    version: int | None = Field(default=None, ge=1, description="a kept older version; default the latest")
    required: bool = Field(default=True, description="fail the step when the key is missing or expired")


class RunWorkflowParams(ActionParams):
    """Run another stored workflow as a sub-workflow (a child PipelineWorkflow) and wait for it: its steps' outputs
    become this step's (`outputs.steps.<id>`), its failure fails this step, cancelling this run cancels it."""

    workflow: str = Field(description="a workflow id, optionally pinned: `deploy` or `deploy@3`")
    inputs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("workflow")
    @classmethod
    def _shape(cls, value: str) -> str:
        name, _, version = value.partition("@")
        if not name or (version and not version.isdigit()):
            raise ValueError("`workflow` is an id, or id@version (e.g. deploy@3)")
        return value


ACTION_PARAMS: dict[str, type[ActionParams]] = {
    "execute-command": ExecuteCommandParams,
    "http-request": HttpRequestParams,
    "wait": WaitParams,
    "approval": ApprovalParams,
    "deploy": DeployParams,
    "notify": NotifyParams,
    "memory-store": MemoryStoreParams,
    "memory-read": MemoryReadParams,
    "run-workflow": RunWorkflowParams,
}

# Actions the workflow itself carries out (durable timers, signals); the rest run as activities.
WORKFLOW_NATIVE_ACTIONS = frozenset({"wait", "approval", "run-workflow"})
