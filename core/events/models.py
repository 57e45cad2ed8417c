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
