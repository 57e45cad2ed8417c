"""`/api/v2/runs` bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Decision(BaseModel):  # an approval step's approve or reject, with an optional comment
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(default=None, max_length=2000)


class RerunBody(BaseModel):
    """What to run again: `failedOnly` (every step that did not succeed, and what depends on them) or `fromStep` (that
    step and everything downstream of it). Steps not run again reuse their recorded outputs."""

    model_config = ConfigDict(extra="forbid")
    failedOnly: bool = False
    fromStep: str | None = Field(default=None, max_length=64)
