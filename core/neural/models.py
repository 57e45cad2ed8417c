"""The neural capability's domain models: what a caller asks to train, a training's live state (the projection's
snapshot), and a registered model version."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

# Bounds on one training's work, so no request can hold a worker for hours or write gigabytes of checkpoints
# (docs/neural.md#limits): epochs, network size, and samples × epochs.
MAX_SAMPLES = 20_000
MAX_EPOCHS = 1_000
MAX_LAYERS = 3
MAX_LAYER_SIZE = 128
MAX_SAMPLE_EPOCHS = 2_000_000
LayerSize = Annotated[int, Field(ge=1, le=MAX_LAYER_SIZE)]


class NothingToLearn(Exception):
    """The data cannot be trained on (too few samples, one class only, …): retrying will not help."""


class TrainingStatus(StrEnum):
    training = "training"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


class TrainingConfig(BaseModel):
    """The spec's `configuration`. `hiddenLayers` is ours (the spec names none): the sizes of the hidden layers."""

    epochs: int = Field(default=100, ge=1, le=MAX_EPOCHS)
    learning_rate: float = Field(default=0.001, gt=0, le=10)
    batch_size: int = Field(default=32, ge=1, le=100_000)
    hidden_layers: list[LayerSize] = Field(default_factory=lambda: [32, 16], min_length=1, max_length=MAX_LAYERS)
    seed: int = 0


class Sample(BaseModel):
    input: dict[str, Any]
    output: dict[str, Any]


class TrainRequest(BaseModel):
    """A training request in domain terms. `source` is `samples` (the request's) or `history` (StellarFlow's own
    finished tasks, read from the projections when training starts)."""

    pattern_type: str = Field(min_length=1, max_length=100)
    source: Literal["samples", "history"] = "samples"
    samples: list[Sample] = Field(default_factory=list, max_length=MAX_SAMPLES)
    validation_split: float = Field(default=0.2, gt=0, lt=1)
    config: TrainingConfig = Field(default_factory=TrainingConfig)
    model_id: str | None = Field(default=None, description="a new version of this model (yours), else a new model")
    shared_with: list[str] = Field(default_factory=list)


class HeadMetrics(BaseModel):
    """One output's figures on the held-out split: accuracy and the confusion matrix (rows: actual, columns:
    predicted, in `labels` order) for a categorical output; MAE and R² for a numeric one."""

    output: str
    task: Literal["classification", "regression"]
    held_out: int
    accuracy: float | None = None
    labels: list[str] | None = None
    confusion_matrix: list[list[int]] | None = None
    mae: float | None = None
    r2: float | None = None


class Contribution(BaseModel):
    """How much one input feature moved one output of a prediction (core/neural/predict.py)."""

    feature: str
    value: Any
    output: str
    effect: float  # probability of the predicted class, or the numeric output's units
    without: float  # the output (probability or value) with the feature at its training average
    with_: float


class TrainingState(BaseModel):
    """A training's state, as the workflow holds and records it."""

    id: str
    owner: str | None
    pattern_type: str
    source: str
    model_id: str
    status: TrainingStatus = TrainingStatus.training
    total_epochs: int
    current_epoch: int = 0
    loss: float | None = None
    validation: dict[str, float] = Field(default_factory=dict, description="per output: accuracy or R², held out")
    estimated_time_s: float | None = None
    epoch_seconds: float | None = None
    attempt: int = 1
    resumed_from_epoch: int | None = None
    samples: int | None = None
    version: int | None = None
    metrics: list[HeadMetrics] = Field(default_factory=list)
    training_seconds: float | None = None
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None


class ModelVersion(BaseModel):
    """A registered model version: its figures and where its weights are (a file the system wrote, with its
    sha256)."""

    model_id: str
    version: int
    owner: str | None
    shared_with: list[str] = Field(default_factory=list)
    pattern_type: str
    training_id: str
    path: str
    sha256: str
    encoding: dict[str, Any] = Field(description="the features.Encoding the inputs are encoded with")
    config: dict[str, Any] = Field(default_factory=dict, description="the TrainingConfig it was trained with")
    metrics: list[HeadMetrics]
    samples: int
    epochs: int
    training_seconds: float
    trained_at: datetime
