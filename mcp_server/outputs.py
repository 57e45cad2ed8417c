"""Tools' output schemas (`outputSchema`): what each tool's structured content holds, so a client can rely on it
(and the SDK's client validates every result against it). A result that is a service model dumped whole uses that
model's own JSON Schema, plus `redacted` (what the service withheld from the caller); the others are the small
models below. Objects stay open to new fields (`additionalProperties`), so adding a field never breaks a client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.agents.contracts import AssignAck, CancelOutcome
from core.agents.state import AgentState, TaskState
from core.agents.swarms import SwarmStatusReport
from core.github.models import AnalysisState, EnhanceState
from core.memory.service import MemoryEntry, SearchResult
from core.neural.models import TrainingState
from core.neural.service import Prediction
from core.orchestrations.models import OrchestrationState
from core.pipelines.models import StepState
from core.pipelines.runs import RunInfo

Schema = dict[str, Any]
_STRINGS = {"type": "array", "items": {"type": "string"}}


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SwarmInitOut(Open):
    swarm_id: str
    name: str
    topology: str
    strategy: str
    max_agents: int
    status: str
    created_at: datetime
    resource: str


class SwarmControlOut(Open):
    swarm_id: str
    action: str
    status: str
    result: dict[str, Any]


class TaskResultOut(Open):
    task_id: str
    status: str
    result: dict[str, Any] | None
    error: str | None
    redacted: list[str]


class ValidateOut(Open):
    valid: bool
    errors: list[Any]
    name: str | None = None
    steps: list[str] | None = None
    message: str | None = None


class RunStartedOut(Open):
    run_id: str
    workflow_id: str
    version: int
    status: str
    resource: str
    logs: str
    ui: str


class RunLogsOut(Open):
    run_id: str
    status: str
    steps: list[dict[str, Any]]
    events: list[dict[str, Any]] | None
    redacted: list[str]


class SystemStatusOut(Open):
    status: str
    components: dict[str, dict[str, Any]] | None = None  # admins
    report: dict[str, Any] | None = None  # admins: /api/system/status's report


def of(model: type[BaseModel], **extra: Schema) -> Schema:
    """`model`'s serialization schema with `extra` properties (those a tool adds to the dumped model)."""
    schema = model.model_json_schema(mode="serialization")
    if "$ref" in schema:  # a recursive model (a step holds its instances): MCP wants `type: object` at the root
        defs = schema["$defs"]
        schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], "$defs": defs}
    schema = {**schema, "properties": {**schema.get("properties", {}), **extra}}
    return schema


def dumped(model: type[BaseModel], **extra: Schema) -> Schema:
    """A service model dumped by `present.dump`: its schema plus `redacted`."""
    return of(model, redacted=_STRINGS, **extra)


def listing(name: str, item: Schema) -> Schema:
    """Dialect 1's list shape around `item`s (their `$defs` lifted to the top, where `$ref`s resolve)."""
    item = dict(item)
    defs = item.pop("$defs", {})
    schema: Schema = {"type": "object", "required": [name, "pagination"], "properties": {
        name: {"type": "array", "items": item},
        "pagination": {"type": "object", "properties": {key: {"type": "integer"} for key in
                                                        ("page", "limit", "total", "pages")}}}}
    if defs:
        schema["$defs"] = defs
    return schema


_STRING = {"type": "string"}
_NUMBER = {"type": "number"}
_WORKFLOW_ITEM = {"type": "object", "required": ["id", "name", "version", "resource"], "properties": {
    "id": _STRING, "name": _STRING, "version": {"type": "integer"}, "status": _STRING, "steps": _STRINGS,
    "resource": _STRING}}

OUTPUTS: dict[str, Schema] = {
    "swarm_init": of(SwarmInitOut),
    "swarm_status": of(SwarmStatusReport),
    "swarm_control": of(SwarmControlOut),
    "agent_spawn": dumped(AgentState, agent_id=_STRING),
    "agent_list": listing("agents", dumped(AgentState)),
    "task_create": dumped(TaskState, task_id=_STRING),
    "task_assign": of(AssignAck),
    "task_status": dumped(TaskState),
    "task_result": of(TaskResultOut),
    "task_cancel": of(CancelOutcome),
    "memory_store": of(MemoryEntry, resource=_STRING),
    "memory_get": of(MemoryEntry),
    "memory_search": of(SearchResult),
    "workflow_list": listing("workflows", _WORKFLOW_ITEM),
    "workflow_validate": of(ValidateOut),
    "workflow_run": of(RunStartedOut),
    "run_status": dumped(RunInfo, summary={"type": "object"}, duration_ms={"type": ["integer", "null"]},
                         resource=_STRING, logs=_STRING),
    "run_logs": of(RunLogsOut),
    "run_approve": of(StepState, run_id=_STRING),
    "orchestrate": dumped(OrchestrationState, orchestration_id=_STRING, progress=_NUMBER, resource=_STRING),
    "orchestration_status": dumped(OrchestrationState, progress=_NUMBER, resource=_STRING),
    "orchestration_cancel": dumped(OrchestrationState, progress=_NUMBER, resource=_STRING),
    "github_analyze": of(AnalysisState, analysis_id=_STRING, resource=_STRING),
    "github_analysis_status": of(AnalysisState, resource=_STRING),
    "github_pr_enhance": of(EnhanceState, enhancement_id=_STRING, resource=_STRING),
    "neural_train": of(TrainingState, training_id=_STRING, resource=_STRING),
    "neural_training_status": of(TrainingState, resource=_STRING),
    "neural_predict": of(Prediction),
    "system_status": of(SystemStatusOut),
}
