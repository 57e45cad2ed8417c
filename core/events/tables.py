"""The append-only `events` table: one row per event of any resource (run, agent, task, swarm, memory entry),
unique on (resource id, seq), so a retried write of the same event is recognised and not appended twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("resource_id", "seq", name="uq_events_resource_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    resource_id: str = Field(index=True)
    seq: int
    type: str
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# Every insert of an event, ORM ones too (memory's expiry events), takes the events lock: core/events/ordering.py.
import core.events.ordering  # noqa: E402, F401
