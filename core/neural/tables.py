"""The neural tables: trainings (the projection TrainingWorkflow records), models and their versions (the
registry; each version's weights are a file in the data dir, named here with its sha256)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import utcnow


class TrainingRow(SQLModel, table=True):
    __tablename__ = "neural_trainings"
    id: str = Field(primary_key=True)  # train-…, the workflow id
    owner: str | None = Field(default=None, index=True)
    pattern_type: str
    model_id: str = Field(index=True)
    status: str = Field(index=True)
    seq: int = 0
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ModelRow(SQLModel, table=True):
    __tablename__ = "neural_models"
    id: str = Field(primary_key=True)  # model-…
    owner: str | None = Field(default=None, index=True)
    pattern_type: str
    shared_with: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    latest_version: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ModelVersionRow(SQLModel, table=True):
    __tablename__ = "neural_model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_neural_model_version"),)
    training_id: str = Field(primary_key=True)  # one version per training: a retried registration finds it
    model_id: str = Field(index=True)
    version: int
    path: str  # relative to the data dir
    sha256: str
    size: int
    encoding: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    metrics: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    samples: int
    epochs: int
    training_seconds: float
    trained_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
