"""`/api/v2/workflows` bodies: a definition (see docs/workflow.schema.json), and a run's inputs."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Body, Request
from pydantic import BaseModel, ConfigDict, Field

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
