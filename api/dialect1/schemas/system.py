"""`POST /api/system/diagnostics`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import UtcDatetime
from core.system.contracts import Section

EXAMPLE = {"include": ["logs", "metrics", "config", "memory_dump"],
           "time_range": {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T23:59:59Z"},
           "format": "json", "compress": True}


class TimeRangeV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None


class DiagnosticsV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    include: list[Section] | None = Field(
        default=None, max_length=6,
        description="sections: logs, metrics, config, memory_dump, workers, versions (default: all)")
    time_range: TimeRangeV1 | None = Field(default=None, description="of logs' context and metrics; default 24 h")
    format: Literal["json"] = "json"
    compress: bool = Field(default=False, description="gzip the bundle (Content-Encoding of the download: none, "
                                                      "the file itself is .json.gz)")
