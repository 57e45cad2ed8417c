"""One training, epoch by epoch, resumable: what the `train_model` activity drives (activities/training.py).

`Training(settings, request, attempt)` loads the data set (the request's samples, or history — saved in the
training's folder on the first attempt, so a resumed attempt trains on the same rows), infers the encoding, splits
off the held-out rows (seeded) and, when a checkpoint exists and checks out, restores the networks and the epoch
from it. `step()` runs one epoch, measures it on the held-out rows, checkpoints and reports; `finish()` computes the
final held-out figures and registers the model version.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from core.errors import ValidationFailed
from core.neural import features, history, network, registry, store
from core.neural.contracts import TrainingInput, TrainingOutcome, TrainingProgress
from core.neural.history import HISTORY_LIMIT
from core.neural.models import NothingToLearn
from core.settings import Settings

MIN_SAMPLES = 4
MEASURED_EPOCHS_FOR_ESTIMATE = 2  # estimatedTime stays null until this many epochs were timed
KEPT_EPOCH_TIMES = 50


class Stopped(Exception):
    """The attempt was cancelled while this epoch ran: its result is not written."""


class Training:
    def __init__(self, settings: Settings, request: TrainingInput, attempt: int) -> None:
        self.settings, self.request, self.attempt = settings, request, attempt
        self.folder = store.training_dir(settings, request.training_id)
        rows = self._dataset()
        if len(rows) < MIN_SAMPLES:
            raise NothingToLearn(f"{len(rows)} samples: at least {MIN_SAMPLES} are needed")
        inputs = [features.flatten(row["input"]) for row in rows]
        outputs = [features.flatten(row["output"]) for row in rows]
        try:
            self.encoding = features.infer(inputs, outputs)
        except ValidationFailed as error:
            raise NothingToLearn("; ".join(d.get("message", "") for d in error.details or []) or str(error)) from None
        self.samples = len(rows)
        x = np.array([features.encode_row(self.encoding, row) for row in inputs], dtype=float)
        ys = {t.name: np.array([features.encode_target(t, row[t.name]) for row in outputs],
                               dtype=object if t.task == "classification" else float)
              for t in self.encoding.targets}
        train, held = features.split(len(rows), request.validation_split, request.config.seed)
        self.x_train, self.x_held = x[train], x[held]
        self.y_train = {name: y[train] for name, y in ys.items()}
        self.y_held = {name: y[held] for name, y in ys.items()}
        self.heads = network.build(self.encoding, request.config)
        self.epoch = 0
        self.epoch_times: list[float] = []
        self.training_seconds = 0.0
        self.resumed_from: int | None = None
        self.loss: float | None = None
        self.stopped = False
        checkpoint = store.read_checkpoint(self.folder)
        if checkpoint is not None:
            meta, arrays = checkpoint
            network.restore(self.heads, self.encoding, arrays)
            self.epoch = self.resumed_from = int(meta["epoch"])
            self.epoch_times = list(meta.get("epoch_times", []))
            self.training_seconds = float(meta.get("training_seconds", 0.0))
            self.loss = meta.get("loss")

    def _dataset(self) -> list[dict[str, Any]]:
        saved = store.read_dataset(self.folder)
        if saved is not None:
            return saved
        if self.request.source == "history":
            rows = history.samples(HISTORY_LIMIT)
        else:
            rows = [sample.model_dump(mode="json") for sample in self.request.samples]
        store.write_dataset(self.folder, rows)
        return rows

    def stop(self) -> None:
        """From another thread: write no checkpoint or model after the epoch in progress."""
        self.stopped = True

    def discard(self) -> None:
        """The training was cancelled: its checkpoint and data set go."""
        store.remove_training(self.folder)

    @property
    def total(self) -> int:
        return self.request.config.epochs

    @property
    def done(self) -> bool:
        return self.epoch >= self.total

    def _shuffled(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """This epoch's order of the training rows: seeded by (seed, epoch), so a resumed run shuffles alike."""
        order = list(range(len(self.x_train)))
        random.Random(f"{self.request.config.seed}:{self.epoch}").shuffle(order)
        return self.x_train[order], {name: y[order] for name, y in self.y_train.items()}

    def step(self) -> TrainingProgress:
        began = time.perf_counter()
        x, ys = self._shuffled()
        self.loss = network.epoch(self.heads, self.encoding, x, ys)
        self.epoch += 1
        validation = network.validation(network.evaluate(self.heads, self.encoding, self.x_held, self.y_held))
        computed = time.perf_counter() - began  # this epoch's time as the checkpoint records it (without its write)
        if self.stopped:
            raise Stopped
        store.write_checkpoint(self.folder, network.arrays(self.heads), {
            "epoch": self.epoch, "loss": self.loss, "epoch_times": [*self.epoch_times, computed][-KEPT_EPOCH_TIMES:],
            "training_seconds": self.training_seconds + computed})
        elapsed = time.perf_counter() - began
        self.training_seconds += elapsed
        self.epoch_times = [*self.epoch_times, elapsed][-KEPT_EPOCH_TIMES:]
        return self.progress(validation)

    def progress(self, validation: dict[str, float] | None = None) -> TrainingProgress:
        estimate = None
        if len(self.epoch_times) >= MEASURED_EPOCHS_FOR_ESTIMATE:
            mean = sum(self.epoch_times) / len(self.epoch_times)
            estimate = round(mean * (self.total - self.epoch), 3)
        return TrainingProgress(attempt=self.attempt, epoch=self.epoch, total_epochs=self.total,
                                loss=round(self.loss, 6) if self.loss is not None else 0.0,
                                validation=validation or {},
                                epoch_seconds=round(self.epoch_times[-1], 6) if self.epoch_times else None,
                                estimated_time_s=estimate, resumed_from_epoch=self.resumed_from,
                                samples=self.samples)

    def finish(self) -> TrainingOutcome:
        metrics = network.evaluate(self.heads, self.encoding, self.x_held, self.y_held)
        if self.stopped:
            raise Stopped
        request = self.request
        version = registry.register(
            self.settings, training_id=request.training_id, model_id=request.model_id, owner=request.owner,
            shared_with=request.shared_with, pattern_type=request.pattern_type,
            encoding=self.encoding.model_dump(mode="json"), config=request.config.model_dump(mode="json"),
            arrays=network.arrays(self.heads), metrics=metrics, samples=self.samples, epochs=self.epoch,
            training_seconds=round(self.training_seconds, 6))
        store.remove_training(self.folder)
        return TrainingOutcome(model_id=version.model_id, version=version.version, metrics=version.metrics,
                               samples=self.samples, epochs=self.epoch, training_seconds=version.training_seconds,
                               resumed_from_epoch=self.resumed_from, trained_at=version.trained_at or datetime.now(UTC))
