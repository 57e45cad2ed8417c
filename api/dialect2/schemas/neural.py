"""`POST /api/v2/neural/train` and `POST /api/v2/neural/predict`: the spec's bodies (plain objects, not resource
documents), camelCase; `trainingData.source`, `configuration.hiddenLayers`, `modelId` and `sharedWith` on train
and `version` on predict are ours."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames
from core.neural.models import (
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_SAMPLES,
    LayerSize,
    Sample,
    TrainingConfig,
    TrainRequest,
)

EXAMPLE_TRAIN = {
    "patternType": "coordination",
    "trainingData": {"samples": [{"input": {"taskComplexity": 0.8, "agentCount": 5, "topology": "hierarchical"},
                                  "output": {"optimalStrategy": "specialized", "expectedTime": 3600}}],
                     "validationSplit": 0.2},
    "configuration": {"epochs": 100, "learningRate": 0.001, "batchSize": 32},
}
EXAMPLE_PREDICT = {"modelId": "model-01J00000000000000000000000",
                   "input": {"taskComplexity": 0.7, "agentCount": 6, "topology": "mesh"}}


class SampleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: dict[str, Any] = Field(description="features: numbers are scaled, anything else is one-hot encoded")
    output: dict[str, Any] = Field(description="targets: text → classification, numbers → regression")


class TrainingData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Literal["samples", "history"] = Field(
        default="samples", description="`history`: learn from StellarFlow's own finished tasks (docs/neural.md)")
    samples: list[SampleBody] = Field(default_factory=list, max_length=MAX_SAMPLES)
    validationSplit: float = Field(default=0.2, gt=0, lt=1, description="the share held out for the figures")


class Configuration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(default=100, ge=1, le=MAX_EPOCHS)
    learningRate: float = Field(default=0.001, gt=0, le=10)
    batchSize: int = Field(default=32, ge=1, le=100_000)
    hiddenLayers: list[LayerSize] = Field(default_factory=lambda: [32, 16], min_length=1, max_length=MAX_LAYERS)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class TrainBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_TRAIN]})
    patternType: str = Field(min_length=1, max_length=100)
    trainingData: TrainingData
    configuration: Configuration = Field(default_factory=Configuration)
    modelId: str | None = Field(default=None, max_length=200, description="train a new version of this model")
    sharedWith: Usernames = Field(default_factory=list, description="users who may predict with the model")

    def to_domain(self) -> TrainRequest:
        c, data = self.configuration, self.trainingData
        return TrainRequest(pattern_type=self.patternType, source=data.source,
                            samples=[Sample(input=s.input, output=s.output) for s in data.samples],
                            validation_split=data.validationSplit,
                            config=TrainingConfig(epochs=c.epochs, learning_rate=c.learningRate,
                                                  batch_size=c.batchSize, hidden_layers=c.hiddenLayers, seed=c.seed),
                            model_id=self.modelId, shared_with=self.sharedWith)


class PredictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_PREDICT]})
    modelId: str = Field(min_length=1, max_length=200)
    version: int | None = Field(default=None, ge=1, description="a version number; the latest when absent")
    input: dict[str, Any]
