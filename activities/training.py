"""The `train_model` activity: one training, epoch by epoch (core/neural/trainer.py), heartbeating `{epoch, loss,
validation}` after each epoch and signalling TrainingWorkflow the progress at most once a second (and at the first
and last epoch), so `currentEpoch` and `estimatedTime` are live in the projection and the event log.

The CPU work runs in a thread an epoch at a time, so heartbeats and cancellation are seen between epochs. Data
that cannot be learnt (too few samples, a single class) fails without retrying (`NothingToLearn`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.names import TRAIN_MODEL
from core.neural.contracts import TrainingHandlers, TrainingInput, TrainingOutcome, TrainingProgress
from core.settings import get_settings

log = logging.getLogger("stellarflow.training")
SIGNAL_EVERY_S = 1.0


async def _report(progress: TrainingProgress) -> None:
    try:
        await activity.client().get_workflow_handle(activity.info().workflow_id).signal(TrainingHandlers.PROGRESS,
                                                                                        progress)
    except Exception as err:  # noqa: BLE001 - progress is best effort; the training goes on
        log.info("progress of %s not signalled: %s", activity.info().workflow_id, err)


@activity.defn(name=TRAIN_MODEL)
async def train_model(request: TrainingInput) -> TrainingOutcome:
    from core.neural.trainer import NothingToLearn, Training  # scikit-learn: loaded by the first training only

    info = activity.info()
    try:
        training = await asyncio.to_thread(Training, get_settings(), request, info.attempt)
    except NothingToLearn as error:
        raise ApplicationError(str(error), type="NothingToLearn", non_retryable=True) from None
    if training.resumed_from is not None:
        log.info("%s: attempt %d resumes from epoch %d", request.training_id, info.attempt, training.resumed_from)
        await _report(training.progress())
    last_report = 0.0
    while not training.done:
        progress = await asyncio.to_thread(training.step)
        activity.heartbeat(progress.model_dump(mode="json"))
        now = time.monotonic()
        if progress.epoch == 1 or training.done or now - last_report >= SIGNAL_EVERY_S:
            last_report = now
            await _report(progress)
    return await asyncio.to_thread(training.finish)
