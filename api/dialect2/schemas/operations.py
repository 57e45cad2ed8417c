"""What `/api/v2/operations/{id}` answers, for the OpenAPI document (api/dialect2/presenters/operations.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.dialect2.schemas.documents import Resource, _Open


class OperationAttributes(_Open):
    """How a request answered 202 ended. `result` is free-form, by `kind`: what the operation did to its resource
    (a swarm start or stop says which agents it started or stopped)."""

    kind: str = Field(examples=["swarm.start"])
    status: str = Field(description="running, then succeeded or failed", examples=["succeeded"])
    resourceType: str = Field(examples=["swarm"])
    resourceId: str
    result: dict[str, Any] = Field(description="what the operation did; its shape depends on `kind`")
    error: str | None = Field(default=None, description="why it failed")
    createdAt: str
    completedAt: str | None = None


Operation = Resource[OperationAttributes]
