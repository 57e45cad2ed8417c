"""`/api/v2/runs` bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Decision(BaseModel):  # an approval step's approve or reject, with an optional comment
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(default=None, max_length=2000)
