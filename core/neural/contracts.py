"""What crosses TrainingWorkflow's boundary: its input, the progress the training activity signals it, what the
activity returns, and the handler names (tests/test_workflow_contracts.py checks them)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, Field

from core.neural.models import HeadMetrics, Sample, TrainingConfig

STATUS_QUERY: Final = "status"


class TrainingHandlers:
    PROGRESS: Final = "progress"  # signal from the training activity: one or more epochs done


class TrainingInput(BaseModel):
    training_id: str
    owner: str | None
    shared_with: list[str] = Field(default_factory=list)
    pattern_type: str
    source: str = "samples"
    samples: list[Sample] = Field(default_factory=list)
    validation_split: float = 0.2
    config: TrainingConfig = Field(default_factory=TrainingConfig)
    model_id: str
    heartbeat_timeout_s: float = 30.0
    created_at: datetime


class TrainingProgress(BaseModel):
    """What the activity reports after an epoch (also its heartbeat): `validation` per output (accuracy for a
    categorical output, R² for a numeric one), on the held-out split; `estimated_time_s` from measured epoch
    times, None until two epochs were measured."""

    attempt: int
    epoch: int
    total_epochs: int
    loss: float
    validation: dict[str, float] = Field(default_factory=dict)
    epoch_seconds: float | None = None
    estimated_time_s: float | None = None
    resumed_from_epoch: int | None = None
    samples: int | None = None


class TrainingOutcome(BaseModel):
    model_id: str
    version: int
    metrics: list[HeadMetrics]
    samples: int
    epochs: int
    training_seconds: float
    resumed_from_epoch: int | None = None
    trained_at: datetime
