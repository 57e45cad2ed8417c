"""`/api/v2/workflows` bodies: a definition (see docs/workflow.schema.json), and a run's inputs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field

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
