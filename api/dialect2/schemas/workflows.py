"""`/api/v2/workflows` bodies: a definition (see docs/workflow.schema.json), and a run's inputs; and what the routes
answer (a workflow, a schedule), for the OpenAPI document."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Body, Request
from pydantic import BaseModel, ConfigDict, Field

from api.dialect2.schemas.documents import _Open
from core.errors import UnsupportedMediaType, ValidationFailed

SEED_EXAMPLE: dict[str, Any] = {
    "name": "CI/CD Pipeline",
    "description": "Automated testing and deployment workflow",
    "triggers": [{"type": "github", "event": "push", "branches": ["main", "develop"]}],
    "steps": [
        {"id": "step-1", "name": "Run Tests", "action": "execute-command",
         "parameters": {"command": "npm test", "timeout": 300000}},
        {"id": "step-2", "name": "Build Application", "action": "execute-command",
         "parameters": {"command": "npm run build"}, "dependsOn": ["step-1"]},
        {"id": "step-3", "name": "Deploy to Staging", "action": "deploy",
         "parameters": {"environment": "staging", "strategy": "blue-green"}, "dependsOn": ["step-2"]},
    ],
    "notifications": {"channels": ["email", "slack"], "events": ["started", "failed", "completed"]},
}
DefinitionBody = Annotated[
    dict[str, Any],
    Body(description="A workflow definition (see docs/workflow.schema.json)", examples=[SEED_EXAMPLE]),
]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: dict[str, Any] = Field(default_factory=dict)
    # bounded to what the database stores: a version past a 64-bit integer must be a 400, never reach a query
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="defaults to the current version")


JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml")
ACCEPTED = ", ".join((*JSON_TYPES, *YAML_TYPES[:2]))
# The OpenAPI request body of POST/PUT /api/v2/workflows: the same definition as JSON or as YAML text.
DEFINITION_OPENAPI = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "A workflow definition "
                                    "(docs/workflow.schema.json)"}, "example": SEED_EXAMPLE},
    "application/yaml": {"schema": {"type": "string", "description": "The definition as YAML, as in definitions/"}},
    "text/yaml": {"schema": {"type": "string"}},
}}}


async def definition_body(request: Request) -> dict[str, Any] | str:
    """The definition as a dict (JSON) or as YAML text (validated with its line numbers, like the CLI does)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    raw = await request.body()
    if media in YAML_TYPES:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed("The YAML body must be UTF-8") from None
    if media in JSON_TYPES or (media == "" and raw.strip()[:1] == b"{"):
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as err:
            reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
            raise ValidationFailed(f"The body is not valid JSON: {reason}") from None
        if not isinstance(data, dict):
            raise ValidationFailed("Workflow definition is invalid", details=[{
                "field": "", "constraint": "type", "message": "a workflow definition must be an object"}])
        return data
    raise UnsupportedMediaType(f"Content-Type {media or '(none)'!r} is not accepted here; send the definition as "
                               f"{ACCEPTED}", details={"accepted": [*JSON_TYPES, *YAML_TYPES[:2]]})


# ---- what the routes answer (api/dialect2/presenters/workflows.py) -----------------------------------------------


class WorkflowStats(_Open):
    totalRuns: int = Field(ge=0, description="runs of every version", examples=[0])
    successRate: float | None = Field(default=None, ge=0, le=1, description="share of finished runs that "
                                      "succeeded; null until a run has finished")
    avgDuration: int | None = Field(default=None, description="milliseconds over finished runs; null until one "
                                    "has finished")


class WorkflowLinks(_Open):
    self: str = Field(examples=["/api/v2/workflows/wf-cicd123"])
    runs: str
    schedules: str


class Workflow(_Open):
    """A workflow definition's current version. `definition` only where a single workflow is answered (GET, PUT)."""

    id: str = Field(examples=["wf-cicd123"])
    name: str = Field(examples=["CI/CD Pipeline"])
    description: str | None = None
    status: str = Field(description="`active`, or `deleted` (a deleted id keeps its versions)", examples=["active"])
    version: int = Field(ge=1, description="bumped by every changed definition", examples=[1])
    contentHash: str = Field(description="sha256 of the canonical definition", examples=["sha256:1f2e3d4c5b6a7980"])
    source: str = Field(description="`api`, `file:<name>` (definitions/) or the git source that made it",
                        examples=["api"])
    owner: str | None = Field(default=None, description="the owner's user id; null for system definitions")
    sharedWith: list[str] = Field(default_factory=list, description="users who may read its runs in full")
    createdAt: str
    updatedAt: str
    nextRun: str | None = Field(default=None, description="the next scheduled run, if it has a schedule trigger")
    lastRun: str | None = None
    commit: str | None = Field(default=None, description="the git commit this version came from (git sources)")
    stats: WorkflowStats
    links: WorkflowLinks
    definition: dict[str, Any] | None = Field(default=None, description="the definition as stored "
                                              "(docs/workflow.schema.json); single-workflow answers only")


class Schedule(_Open):
    """One schedule trigger of a workflow as a Temporal Schedule."""

    n: int = Field(ge=0, description="its index among the workflow's schedule triggers (0 = first)")
    scheduleId: str = Field(examples=["stellarflow-wf-wf-cicd123-0"])
    cron: str | None = Field(default=None, examples=["0 3 * * *"])
    every: int | None = Field(default=None, description="interval in milliseconds (instead of `cron`)")
    timezone: str | None = None
    overlap: str = Field(description="overlap policy: skip, buffer, buffer-all, cancel-other, terminate-other, "
                         "allow-all", examples=["skip"])
    paused: bool = False
    note: str | None = Field(default=None, description="why it was paused, or the last action's note")
    nextRun: str | None = None
    lastRun: str | None = None
    recentRuns: list[str] = Field(default_factory=list, description="ids of the runs it started lately")
