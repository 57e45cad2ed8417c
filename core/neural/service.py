"""Neural operations, once for every front end: start a training, read it, predict with a model.

Access (core/access.py): a training and a model belong to the user who started the training. Everyone signed in
sees a training's progress and figures; its `error` is for its owner, admins and the users the model is shared with.
Predicting with a model uses it, so it needs the same entitlement (owner, admin, shared with); training a new
version of an existing model changes it, so it needs its owner or an admin.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import select
from temporalio.client import Client
from temporalio.service import RPCError

from core.access import Caller, may_read, require_use, require_write
from core.db import session_scope
from core.errors import NotFound, Unavailable, ValidationFailed
from core.events.contracts import EntityRecord
from core.events.store import record
from core.ids import new_id
from core.names import TRAINING_WORKFLOW
from core.neural import features, registry
from core.neural.contracts import TrainingInput
from core.neural.history import HISTORY_LIMIT
from core.neural.models import (
    MAX_SAMPLE_EPOCHS,
    Contribution,
    HeadMetrics,
    ModelVersion,
    TrainingState,
    TrainRequest,
)
from core.neural.projection import TRAINING_PROJECTION
from core.neural.tables import TrainingRow
from core.settings import Settings

# A training's heartbeat timeout is never below this: its activity heartbeats every half second, but the SDK sends
# at most one heartbeat per 0.8 × timeout, and a CPU-bound worker on a busy machine needs the margin.
MIN_HEARTBEAT_TIMEOUT_S = 5.0
TRAINING_ID = re.compile(r"^train-[0-9A-HJKMNP-TV-Z]{26}$")
MODEL_ID = re.compile(r"^model-[0-9A-HJKMNP-TV-Z]{26}$")


class Prediction(BaseModel):
    values: dict[str, Any]
    probabilities: dict[str, dict[str, float]]
    confidence: float | None
    contributions: list[Contribution]
    reasoning: list[str]
    model: ModelVersion


def _check_samples(request: TrainRequest) -> None:
    """Samples that cannot be trained on, or more work than one training may be, are a 400 now, not a failed
    training later."""
    samples = len(request.samples) if request.source == "samples" else HISTORY_LIMIT
    if samples * request.config.epochs > MAX_SAMPLE_EPOCHS:
        raise ValidationFailed("Too much work for one training", details=[{
            "field": "configuration.epochs", "constraint": "max_sample_epochs", "value": request.config.epochs,
            "message": f"samples × epochs is {samples * request.config.epochs:,}; at most {MAX_SAMPLE_EPOCHS:,}"}])
    if request.source == "samples":
        features.infer([features.flatten(s.input) for s in request.samples],
                       [features.flatten(s.output) for s in request.samples])


async def start_training(client: Client, settings: Settings, request: TrainRequest, *, caller: Caller) -> TrainingState:
    _check_samples(request)
    model_id = request.model_id
    shared_with = request.shared_with
    if model_id is not None:
        model = registry.get_model(model_id) if MODEL_ID.match(model_id) else None
        if model is None:
            raise NotFound("model", model_id[:200])
        require_write(caller, model.owner, "model", model_id, "train a new version of")
        shared_with = request.shared_with or list(model.shared_with or [])
    else:
        model_id = new_id("model")
    training_id = new_id("train")
    now = datetime.now(UTC)
    state = TrainingState(id=training_id, owner=caller.id, pattern_type=request.pattern_type, source=request.source,
                          model_id=model_id, total_epochs=request.config.epochs, created_at=now, updated_at=now,
                          samples=len(request.samples) if request.source == "samples" else None)
    workflow_input = TrainingInput(training_id=training_id, owner=caller.id, shared_with=shared_with,
                                   pattern_type=request.pattern_type, source=request.source,
                                   samples=request.samples, validation_split=request.validation_split,
                                   config=request.config, model_id=model_id,
                                   heartbeat_timeout_s=max(settings.heartbeat_timeout_s, MIN_HEARTBEAT_TIMEOUT_S),
                                   created_at=now)
    # The row first (seq 0), so a GET right after the 202 finds it; the workflow's writes replace it.
    await asyncio.to_thread(record, EntityRecord(kind=TRAINING_PROJECTION.kind, id=training_id, seq=0,
                                                 snapshot=state.model_dump(mode="json")), TRAINING_PROJECTION)
    try:
        await client.start_workflow(TRAINING_WORKFLOW, workflow_input, id=training_id, task_queue=settings.task_queue,
                                    static_summary=f"train {request.pattern_type} · {model_id}"[:400])
    except RPCError as err:
        await asyncio.to_thread(_forget, training_id)
        raise Unavailable(f"Temporal did not accept the training: {err.message}") from None
    return state


def _forget(training_id: str) -> None:
    with session_scope() as session:
        row = session.get(TrainingRow, training_id)
        if row is not None:
            session.delete(row)


def _training(training_id: str) -> TrainingState | None:
    with session_scope() as session:
        row = session.get(TrainingRow, training_id)
        return TrainingState.model_validate(row.state) if row else None


async def get_training(training_id: str, *, caller: Caller) -> TrainingState:
    state = await asyncio.to_thread(_training, training_id) if TRAINING_ID.match(training_id) else None
    if state is None:
        raise NotFound("training", training_id[:200])
    model = await asyncio.to_thread(registry.get_model, state.model_id)
    if not may_read(caller, state.owner, model.shared_with if model else None):
        state = state.model_copy(update={"error": None})
    return state


def list_trainings(model_id: str) -> list[TrainingState]:
    with session_scope() as session:
        rows = session.exec(select(TrainingRow).where(TrainingRow.model_id == model_id)).all()
        return [TrainingState.model_validate(row.state) for row in rows]


def _version(model_id: str, version: int | None) -> ModelVersion:
    found = registry.get_version(model_id, version) if MODEL_ID.match(model_id) else None
    if found is None:
        raise NotFound("model", model_id[:200] if version is None else f"{model_id[:200]} version {version}")
    return found


async def predict(settings: Settings, model_id: str, version: int | None, values: dict[str, Any], *,
                  caller: Caller) -> Prediction:
    model = await asyncio.to_thread(_version, model_id, version)
    require_use(caller, model.owner, model.shared_with, "model", model_id, "predict with it")
    from core.neural import predict as predictor  # scikit-learn loads on the first prediction, not at start-up

    loaded = predictor.cached(model) or await asyncio.to_thread(predictor.load, settings, model)
    result = predictor.predict(loaded, features.flatten(values))
    return Prediction(**result, model=model)


def held_out_accuracy(metrics: list[HeadMetrics]) -> float | None:
    """The mean held-out accuracy of the categorical outputs; None for a model with numeric outputs only."""
    scores = [m.accuracy for m in metrics if m.task == "classification" and m.accuracy is not None]
    return round(sum(scores) / len(scores), 6) if scores else None
