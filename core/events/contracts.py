"""What a workflow hands the one record activity: its new events, its snapshot for the projection, the 202
operations the write ends and the signals it sends to other workflows afterwards."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from core.events.models import Event


class OutgoingSignal(BaseModel):
    workflow_id: str
    signal: str
    arg: Any = None


class EntityRecord(BaseModel):
    """Events plus the resource's snapshot, written in one transaction, then the signals it sends to others.
    `seq` is the resource's own event counter, so retried writes append nothing twice and an older snapshot never
    overwrites a newer one; a retried send may repeat a signal, so receivers ignore repeats. `kind` picks the
    projection writer (`run`, `agent`, `task`, `swarm`)."""

    kind: str
    id: str
    seq: int
    snapshot: dict[str, Any]
    events: list[Event] = Field(default_factory=list)
    operations: list[dict[str, Any]] = Field(default_factory=list, description="202 operations this write ends")
    signals: list[OutgoingSignal] = Field(default_factory=list)
