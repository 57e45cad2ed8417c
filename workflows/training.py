"""TrainingWorkflow (`train-…`): one neural training (core/neural). The `train_model` activity does the work —
epochs, held-out figures, checkpoints, the model version — and signals progress; the workflow keeps the training's
state, records it (projection `neural_trainings`, events `training.*`) and answers the `status` query.

A worker lost mid-training loses nothing but the epoch in progress: the activity's heartbeat times out, Temporal
retries it on another worker, and it resumes from its last checkpoint (core/neural/trainer.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from core.names import TRAIN_MODEL, TRAINING_WORKFLOW
    from core.neural.contracts import STATUS_QUERY, TrainingHandlers, TrainingInput, TrainingOutcome, TrainingProgress
    from core.neural.models import TrainingState, TrainingStatus

from workflows.recording import Recorder

KIND = "training"
TRAINING_TIMEOUT = timedelta(hours=24)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=10,
                    non_retryable_error_types=["NothingToLearn"])


@workflow.defn(name=TRAINING_WORKFLOW)
class TrainingWorkflow:
    def __init__(self) -> None:
        self.state: TrainingState | None = None
        self.recorder: Recorder | None = None

    def _snapshot(self) -> dict:
        assert self.state is not None
        return self.state.model_dump(mode="json")

    @workflow.run
    async def run(self, request: TrainingInput) -> TrainingState:
        now = workflow.now()
        self.state = state = TrainingState(
            id=request.training_id, owner=request.owner, pattern_type=request.pattern_type, source=request.source,
            model_id=request.model_id, total_epochs=request.config.epochs, created_at=request.created_at,
            started_at=now, updated_at=now, samples=len(request.samples) if request.source == "samples" else None)
        self.recorder = recorder = Recorder(KIND, request.training_id, self._snapshot)
        recorder.emit("training.started", {"modelId": request.model_id, "totalEpochs": request.config.epochs,
                                           "source": request.source})
        await recorder.flush()
        try:
            outcome = await workflow.execute_activity(
                TRAIN_MODEL, request, result_type=TrainingOutcome, start_to_close_timeout=TRAINING_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=request.heartbeat_timeout_s), retry_policy=RETRY,
                # a cancelled training ends once its activity has stopped writing (after the epoch in progress)
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        except (asyncio.CancelledError, ActivityError) as error:
            if isinstance(error, ActivityError) and not isinstance(error.cause, CancelledError):
                cause = error.cause
                message = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
                state.status, state.error = TrainingStatus.failed, message
                state.completed_at = state.updated_at = workflow.now()
                recorder.emit("training.failed", {"error": message})
                await recorder.settle()
                return state
            # Cancelled (the Temporal UI, or a cancel route): say so in the projection, then end as cancelled.
            state.status = TrainingStatus.cancelled
            state.completed_at = state.updated_at = workflow.now()
            recorder.emit("training.cancelled", {"epoch": state.current_epoch})
            await recorder.settle()
            raise asyncio.CancelledError from None
        state.status = TrainingStatus.completed
        state.version, state.metrics = outcome.version, outcome.metrics
        state.current_epoch, state.samples = outcome.epochs, outcome.samples
        state.training_seconds, state.estimated_time_s = outcome.training_seconds, 0.0
        state.resumed_from_epoch = outcome.resumed_from_epoch
        state.completed_at = state.updated_at = workflow.now()
        recorder.emit("training.completed", {"modelId": outcome.model_id, "version": outcome.version,
                                             "epochs": outcome.epochs, "trainingSeconds": outcome.training_seconds,
                                             "heldOut": [m.model_dump(mode="json", exclude_none=True)
                                                         for m in outcome.metrics]})
        await recorder.settle()
        return state

    @workflow.signal(name=TrainingHandlers.PROGRESS)
    async def progress(self, update: TrainingProgress) -> None:
        state, recorder = self.state, self.recorder
        if state is None or recorder is None or state.status != TrainingStatus.training:
            return
        if update.attempt < state.attempt or (update.attempt == state.attempt and update.epoch <= state.current_epoch
                                              and state.loss is not None):
            return  # late or repeated
        if update.attempt > state.attempt:
            state.attempt = update.attempt
            recorder.emit("training.resumed", {"attempt": update.attempt, "fromEpoch": update.resumed_from_epoch or 0})
            state.resumed_from_epoch = update.resumed_from_epoch
        state.current_epoch, state.loss, state.validation = update.epoch, update.loss, update.validation
        state.epoch_seconds, state.estimated_time_s = update.epoch_seconds, update.estimated_time_s
        state.samples = update.samples if update.samples is not None else state.samples
        state.updated_at = workflow.now()
        recorder.emit("training.progress", {"epoch": update.epoch, "totalEpochs": update.total_epochs,
                                            "loss": update.loss, "validation": update.validation,
                                            "estimatedTime": update.estimated_time_s})
        await recorder.flush_soon()

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> TrainingState | None:
        return self.state
