"""What `/api/v2/sources` answers, for the OpenAPI document (the request body is core.sources.service.SourceCreate)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.dialect2.schemas.documents import _Open


class SourceLinks(_Open):
    self: str = Field(examples=["/api/v2/sources/src-abc123"])
    sync: str = Field(description="POST: sync now")


class Source(_Open):
    """A git repository, branch and folder of workflow definitions, and how its last sync went. Its token is
    never shown (`hasToken`)."""

    id: str
    name: str
    url: str = Field(examples=["https://github.com/acme/pipelines.git"])
    branch: str = Field(examples=["main"])
    folder: str = Field(examples=["definitions"])
    owner: str = Field(description="the owner's user id")
    hasToken: bool
    webhookSecret: str | None = Field(default=None, description="the name of the webhook secret that may sign "
                                      "pushes")
    interval: float = Field(ge=0, description="seconds between scheduled syncs; 0 = only on push and on request")
    status: str = Field(examples=["synced"])
    lastCommit: str | None = None
    lastSyncAt: str | None = None
    lastResult: dict[str, Any] = Field(description="the last sync: commit, the workflows created, versioned, "
                                       "unchanged and deleted, and each invalid file with its line")
    createdAt: str
    links: SourceLinks


class SyncStarted(_Open):
    sourceId: str
    workflowId: str = Field(description="the SyncSourceWorkflow's id")
