"""GitHub analyses and PR enhancements: one row each, the projection of its workflow (core/github/projection.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from core.db import utcnow


class GitHubJobRow(SQLModel, table=True):
    __tablename__ = "github_jobs"
    id: str = Field(primary_key=True)  # gh-analysis-… or gh-pr-… (= the workflow id)
    kind: str = Field(index=True)  # gh-analysis | gh-pr
    owner: str = Field(index=True)
    repository: str
    status: str
    seq: int = 0
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
