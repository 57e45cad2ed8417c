"""`POST /api/v2/neural/train` and `POST /api/v2/neural/predict`: the spec's bodies (plain objects, not resource
documents), camelCase; `trainingData.source`, `configuration.hiddenLayers`, `modelId` and `sharedWith` on train
and `version` on predict are ours. Then the trainings and predictions the routes answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames
from api.dialect2.schemas.documents import Document, _Open
from core.neural.models import (
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_SAMPLES,
    LayerSize,
    Sample,
    TrainingConfig,
    TrainingStatus,
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


# ---- what the API answers (api/dialect2/presenters/neural.py) ---------------------------------------------


class ConfusionMatrix(_Open):
    labels: list[str] | None = Field(description="The classes, in the matrix's row and column order")
    matrix: list[list[int]] | None = Field(description="Rows: actual class, columns: predicted")


class HeldOutFigures(_Open):
    """One output's figures on the held-out split: `accuracy` and `confusionMatrix` for a categorical output,
    `mae` and `r2` for a numeric one."""

    output: str = Field(examples=["optimalStrategy"])
    task: Literal["classification", "regression"]
    heldOut: int = Field(description="Rows the network never trained on")
    accuracy: float | None = None
    confusionMatrix: ConfusionMatrix | None = None
    mae: float | None = None
    r2: float | None = None


class TrainedModel(_Open):
    modelId: str = Field(examples=["model-01J00000000000000000000000"])
    version: str | None = Field(description="Null until the training registered it", examples=["1"])


class Training(_Open):
    """A training (`train-…`): live progress, then the held-out figures and the model version."""

    trainingId: str = Field(examples=["train-01J00000000000000000000000"])
    status: TrainingStatus
    estimatedTime: float | None = Field(description="Seconds left; null until two epochs were timed",
                                        examples=[300])
    currentEpoch: int = Field(examples=[0])
    totalEpochs: int = Field(examples=[100])
    patternType: str = Field(examples=["coordination"])
    source: str = Field(description="`samples` or `history`")
    samples: int | None
    loss: float | None
    validation: dict[str, float] = Field(description="Per output: accuracy or R², on the held-out split")
    epochTime: float | None = Field(description="Seconds per epoch")
    attempt: int
    resumedFromEpoch: int | None
    model: TrainedModel
    heldOutMetrics: list[HeldOutFigures]
    accuracy: float | None = Field(description="Mean held-out accuracy of the categorical outputs")
    trainingTime: float | None = Field(description="seconds")
    error: str | None
    owner: str | None
    createdAt: str
    startedAt: str | None
    completedAt: str | None
    updatedAt: str | None


class TrainingLinks(_Open):
    status: str = Field(examples=["/api/v2/neural/training/train-01J00000000000000000000000"])
    websocket: str = Field(examples=["/v2/ws/training/train-01J00000000000000000000000"])


class TrainingDocument(Document[Training]):
    links: TrainingLinks  # type: ignore[assignment]


class PredictedValues(_Open):
    """One entry per output the model learnt, named as in its training samples, then these two."""

    confidenceScore: float | None = Field(examples=[0.89])
    reasoning: list[str]


class FeatureContribution(_Open):
    feature: str
    output: str
    effect: float = Field(description="How much the feature moved the output (probability, or the output's units)")


class PredictionModelInfo(_Open):
    modelId: str
    version: str
    lastTrained: str | None
    lastTrainined: str | None = Field(description="The spec's spelling of `lastTrained`")
    accuracy: float | None
    trainingTime: float = Field(description="seconds")
    samples: int
    epochs: int
    heldOutMetrics: list[HeldOutFigures]


class PredictionResult(_Open):
    """`POST /api/v2/neural/predict`."""

    prediction: PredictedValues
    probabilities: dict[str, dict[str, float]] = Field(description="Per categorical output: class → probability")
    featureContributions: list[FeatureContribution]
    modelInfo: PredictionModelInfo
