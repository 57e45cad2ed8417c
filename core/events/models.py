"""One entry of the event log, as workflows emit it and readers get it back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Event(BaseModel):
    """`seq` is assigned by the emitting workflow (deterministic), so a retried write of the same event is
    recognised and not appended twice."""

    seq: int
    type: str
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


class StoredEvent(Event):
    """An event as the stream delivers it: with its global, commit-ordered `id` and the resource it belongs to
    (a run's log lines belong to `<run id>/<step id>/log`)."""

    id: int
    resource_id: str
