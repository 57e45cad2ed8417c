"""The `train_model` activity: one training, epoch by epoch (core/neural/trainer.py), heartbeating `{epoch, loss,
validation}` after each epoch and signalling TrainingWorkflow the progress at most once a second (and at the first
and last epoch), so `currentEpoch` and `estimatedTime` are live in the projection and the event log.

The CPU work runs in a thread an epoch at a time, so heartbeats and cancellation are seen between epochs. Data
that cannot be learnt (too few samples, a single class) fails without retrying (`NothingToLearn`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.names import TRAIN_MODEL
from core.neural.contracts import TrainingHandlers, TrainingInput, TrainingOutcome, TrainingProgress
from core.neural.models import NothingToLearn
from core.settings import get_settings

T = TypeVar("T")

log = logging.getLogger("stellarflow.training")
SIGNAL_EVERY_S = 1.0
HEARTBEAT_EVERY_S = 0.5


async def _beating(work: Callable[[], T], details: Callable[[], Any], stop: Callable[[], None] | None = None) -> T:
    """`work()` in a thread, heartbeating meanwhile: loading scikit-learn and the data set, or an epoch on a busy
    machine, can take longer than the heartbeat timeout, and a silent attempt would be abandoned as lost.

    A thread cannot be cancelled: when the attempt is (cancelled, or its heartbeat timed out), `stop()` tells the
    work to write nothing more and the attempt waits for it to return, so a retry on this worker never races a
    thread of the attempt before it."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            activity.heartbeat(details())
    except asyncio.CancelledError:
        if stop is not None:
            stop()
        with contextlib.suppress(BaseException):
            await asyncio.shield(task)
        raise


async def _report(progress: TrainingProgress) -> None:
    try:
        await activity.client().get_workflow_handle(activity.info().workflow_id).signal(TrainingHandlers.PROGRESS,
                                                                                        progress)
    except Exception as err:  # noqa: BLE001 - progress is best effort; the training goes on
        log.info("progress of %s not signalled: %s", activity.info().workflow_id, err)


@activity.defn(name=TRAIN_MODEL)
async def train_model(request: TrainingInput) -> TrainingOutcome:
    info = activity.info()

    def prepare() -> Any:
        # scikit-learn is imported here, in the thread, by the first training only: a 2.5 s import on the event
        # loop would hold up every workflow task and heartbeat of this worker.
        from core.neural.trainer import Training

        return Training(get_settings(), request, info.attempt)

    try:
        training = await _beating(prepare, lambda: {"preparing": True})
    except NothingToLearn as error:
        raise ApplicationError(str(error), type="NothingToLearn", non_retryable=True) from None
    if training.resumed_from is not None:
        log.info("%s: attempt %d resumes from epoch %d", request.training_id, info.attempt, training.resumed_from)
        await _report(training.progress())
    last_report = 0.0
    try:
        while not training.done:
            progress = await _beating(training.step, lambda: {"epoch": training.epoch}, training.stop)
            activity.heartbeat(progress.model_dump(mode="json"))
            now = time.monotonic()
            if progress.epoch == 1 or training.done or now - last_report >= SIGNAL_EVERY_S:
                last_report = now
                await _report(progress)
        return await _beating(training.finish, lambda: {"registering": True}, training.stop)
    except asyncio.CancelledError:
        details = activity.cancellation_details()
        if details is not None and details.cancel_requested:  # the training was cancelled: no retry will need it
            await asyncio.to_thread(training.discard)
        raise  # a lost heartbeat or a worker shutting down: the checkpoint stays for the next attempt
