"""`/api/v2/runs` bodies; and what the routes answer (a run, its steps, logs and artifacts), for the OpenAPI
document (api/dialect2/presenters/runs.py builds them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.dialect2.schemas.documents import Document, ListDocument, Meta, _Open
from api.dialect2.schemas.workflows import Workflow


class Decision(BaseModel):  # an approval step's approve or reject, with an optional comment
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(default=None, max_length=2000)


class RerunBody(BaseModel):
    """What to run again: `failedOnly` (every step that did not succeed, and what depends on them) or `fromStep` (that
    step and everything downstream of it). Steps not run again reuse their recorded outputs."""

    model_config = ConfigDict(extra="forbid")
    failedOnly: bool = False
    fromStep: str | None = Field(default=None, max_length=64)


# ---- what the routes answer ------------------------------------------------------------------------------------

RunStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]
StepStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "cancelled"]


class RunStarter(_Open):
    id: str = Field(examples=["usr-abc123"])
    username: str = Field(examples=["developer123"])


class StepLinks(_Open):
    childRun: str | None = Field(default=None, description="a run-workflow step's sub-workflow run")


class Step(_Open):
    """A step's state. Fields without a value are left out; for a caller who may not read the run's outputs,
    `outputs`, `error` and `artifacts` are null."""

    id: str = Field(examples=["step-1"])
    name: str | None = None
    action: str = Field(examples=["execute-command"])
    status: StepStatus
    attempts: int = Field(ge=0)
    startedAt: str | None = None
    endedAt: str | None = None
    outputs: dict[str, Any] | None = Field(default=None, description="what the step produced (`stdout`, "
                                           "`exitCode`, declared outputs...)")
    error: str | None = None
    reason: str | None = Field(default=None, description="why a step was skipped or cancelled")
    approval: dict[str, Any] | None = Field(default=None, description="an approval step's request and decision: "
                                            "{status: waiting|approved|rejected, approvers, ...}")
    instances: list[Step] | None = Field(default=None, description="fan-out instances (forEach/matrix)")
    reusedFrom: str | None = Field(default=None, description="a re-run's step not executed again: the run whose "
                                   "recorded outputs it reuses")
    childRunId: str | None = Field(default=None, description="a run-workflow step's sub-workflow run")
    artifacts: dict[str, Any] | None = Field(default=None, description="files the step stored: name -> "
                                             "{id, url, size, sha256, path}")
    concurrency: dict[str, Any] | None = Field(default=None, description="the step's concurrency group: "
                                               "{group, state: queued|holding|released, position}")
    links: StepLinks | None = None


class RunLinks(_Open):
    self: str = Field(examples=["/api/v2/runs/run-abc123"])
    workflow: str
    events: str
    logs: str
    cancel: str
    rerun: str
    artifacts: str
    temporalUi: str = Field(description="the run's page in the Temporal UI")
    rerunOf: str | None = None
    parent: str | None = None


class Run(_Open):
    """A run of a workflow's pinned version. `inputs` (and the steps' `outputs` and `error`) are null for a caller
    who may not read them (`meta.redacted` names them). `steps` is left out of lists."""

    id: str = Field(examples=["run-abc123"])
    workflowId: str = Field(examples=["wf-cicd123"])
    version: int = Field(ge=1, description="the workflow version the run pinned")
    startedBy: RunStarter | None = Field(default=None, description="null for runs from before starters were kept")
    status: RunStatus
    inputs: dict[str, Any] | None = Field(description="null when withheld from the caller")
    createdAt: str
    startedAt: str | None = None
    endedAt: str | None = None
    durationMs: int | None = Field(default=None, description="set once the run ended")
    error: str | None = None
    summary: dict[str, int] = Field(description="steps per status", examples=[{"succeeded": 2, "running": 1}])
    trigger: dict[str, Any] | None = Field(default=None, description="what started the run: {type, schedule, "
                                           "delivery, event, workflowRunId}")
    rerunOf: str | None = None
    reruns: list[str] = Field(default_factory=list, description="runs started as re-runs of this one")
    parentRunId: str | None = Field(default=None, description="the run whose run-workflow step started this one")
    concurrency: dict[str, Any] | None = None
    links: RunLinks
    steps: list[Step] | None = Field(default=None, description="single-run answers only")


class RedactedMeta(Meta):
    redacted: list[str] | None = Field(default=None, description="fields withheld from the caller (each null)",
                                       examples=[["inputs", "steps.outputs", "steps.error"]])


class RunDocument(Document[Run]):
    meta: RedactedMeta


class RunListDocument(ListDocument[Run]):
    """`GET /api/v2/runs`: with `include=workflow`, the runs' workflows as `included` (without their definitions)."""

    included: list[Workflow] | None = None


class StartedRun(Document[Run]):
    """A run just started (or re-run): its links beside it, as `links`."""

    links: RunLinks


class StepLog(_Open):
    """One step (or fan-out instance) in the logs. For a caller not entitled to them, `exitCode`, `stdout`,
    `stderr` and `error` are null."""

    stepId: str
    status: StepStatus
    attempts: int = Field(ge=0)
    exitCode: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    truncated: bool | None = Field(default=None, description="the output was cut to the kept tail")
    error: str | None = None


class RunEvent(_Open):
    seq: int = Field(description="the event's order within the run")
    type: str = Field(examples=["step.started"])
    at: str
    data: dict[str, Any]


class RunLogs(_Open):
    runId: str
    status: RunStatus
    startedBy: RunStarter | None = None
    steps: list[StepLog]
    events: list[RunEvent] | None = Field(description="null when withheld from the caller")


class RunLogsDocument(Document[RunLogs]):
    meta: RedactedMeta


class ArtifactLinks(_Open):
    self: str = Field(description="downloads the bytes", examples=["/api/v2/artifacts/art-abc123"])


class Artifact(_Open):
    """A stored file's metadata; `links.self` downloads it."""

    id: str
    name: str = Field(examples=["report.html"])
    path: str = Field(description="where the step found it")
    size: int = Field(ge=0, description="bytes")
    sha256: str
    contentType: str = Field(examples=["text/html"])
    runId: str | None = None
    taskId: str | None = None
    stepId: str | None = None
    createdAt: str
    expiresAt: str | None = Field(default=None, description="when it is deleted; null = kept")
    links: ArtifactLinks
