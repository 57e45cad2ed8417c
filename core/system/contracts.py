"""What crosses the system workflows' boundaries: the diagnostics request and the metrics sample's result."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SECTIONS = ("logs", "metrics", "config", "memory_dump", "workers", "versions")
Section = Literal["logs", "metrics", "config", "memory_dump", "workers", "versions"]


class DiagnosticsRequest(BaseModel):
    report_id: str
    include: list[Section] = Field(default_factory=lambda: list(SECTIONS))
    start: datetime | None = None  # the time range of logs and metrics; default: the last 24 hours
    end: datetime | None = None
    compress: bool = False
    requested_by: str


class DiagnosticsResult(BaseModel):
    report_id: str
    status: str  # ready | failed
    size: int | None = None
    error: str | None = None


class MetricsSampleResult(BaseModel):
    host: str
    cpu: float
    memory: float
    disk: float
    pruned: dict[str, int] = Field(default_factory=dict)
