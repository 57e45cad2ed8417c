"""Trainings and predictions (`/api/v2/neural`): the spec's shapes, camelCase, times in seconds as the spec's
`estimatedTime: 300` reads."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.dialect2.jsonapi import BASE
from core.neural.models import HeadMetrics, TrainingState
from core.neural.service import Prediction, held_out_accuracy


def training_links(training_id: str) -> dict[str, str]:
    return {"status": f"{BASE}/neural/training/{training_id}", "websocket": f"/v2/ws/training/{training_id}"}


def metrics(items: list[HeadMetrics]) -> list[dict[str, Any]]:
    """Per output, measured on the held-out split (`heldOut` rows the network never trained on)."""
    out = []
    for m in items:
        body: dict[str, Any] = {"output": m.output, "task": m.task, "heldOut": m.held_out}
        if m.task == "classification":
            body |= {"accuracy": m.accuracy, "confusionMatrix": {"labels": m.labels, "matrix": m.confusion_matrix}}
        else:
            body |= {"mae": m.mae, "r2": m.r2}
        out.append(body)
    return out


def training(state: TrainingState) -> dict[str, Any]:
    """`estimatedTime` (seconds left) is null until two epochs were timed; `currentEpoch` moves as epochs end."""
    return {
        "trainingId": state.id, "status": state.status.value, "estimatedTime": state.estimated_time_s,
        "currentEpoch": state.current_epoch, "totalEpochs": state.total_epochs, "patternType": state.pattern_type,
        "source": state.source, "samples": state.samples, "loss": state.loss, "validation": state.validation,
        "epochTime": state.epoch_seconds, "attempt": state.attempt, "resumedFromEpoch": state.resumed_from_epoch,
        "model": {"modelId": state.model_id, "version": None if state.version is None else str(state.version)},
        "heldOutMetrics": metrics(state.metrics), "accuracy": held_out_accuracy(state.metrics),
        "trainingTime": state.training_seconds, "error": state.error, "owner": state.owner,
        "createdAt": iso(state.created_at), "startedAt": iso(state.started_at),
        "completedAt": iso(state.completed_at), "updatedAt": iso(state.updated_at),
    }


def prediction(result: Prediction) -> dict[str, Any]:
    """`prediction` holds one entry per output the model learnt, named as in its training samples, then
    `confidenceScore` and `reasoning` as the spec shows; `probabilities` (per categorical output) and
    `featureContributions` are ours. `modelInfo.lastTrainined` keeps the spec's spelling beside `lastTrained`."""
    model = result.model
    trained = iso(model.trained_at)
    return {
        "prediction": {**result.values, "confidenceScore": result.confidence, "reasoning": result.reasoning},
        "probabilities": result.probabilities,
        "featureContributions": [{"feature": c.feature, "output": c.output, "effect": round(c.effect, 6)}
                                 for c in result.contributions],
        "modelInfo": {"modelId": model.model_id, "version": str(model.version), "lastTrained": trained,
                      "lastTrainined": trained, "accuracy": held_out_accuracy(model.metrics),
                      "trainingTime": model.training_seconds, "samples": model.samples, "epochs": model.epochs,
                      "heldOutMetrics": metrics(model.metrics)},
    }
