"""TaskWorkflow: one task (workflow id = task id `tk-…`), pending → queued → running → completed | failed |
cancelled.

The task does not run its work itself: an agent does (AgentWorkflow), and tells the task when it starts and
ends; progress arrives from the executor's heartbeats as `progress` signals. A task in a swarm submits itself to
the swarm's queue; a task without one waits for `POST /api/tasks/{id}/assign`. Cancel (and a passed deadline)
asks whoever holds the task to stop it, and reports whether the workspace was rolled back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.recording import Recorder

with workflow.unsafe.imports_passed_through():
    from core.agents.contracts import (
        AgentHandlers,
        AssignedBy,
        CancelOutcome,
        SwarmHandlers,
        TaskFinished,
        TaskInput,
        TaskPatch,
        TaskProgress,
        TaskStarted,
    )
    from core.agents.models import TERMINAL_TASK, TaskStatus
    from core.agents.state import TaskState, TaskTicket, Timeline
    from core.names import TASK_WORKFLOW

CANCEL_GRACE = timedelta(seconds=60)  # how long a cancel waits for the agent to stop and roll back


@workflow.defn(name=TASK_WORKFLOW, sandboxed=False)
class TaskWorkflow:
    @workflow.init
    def __init__(self, task_input: TaskInput) -> None:
        # State exists before any handler runs: a signal can arrive in the very first activation.
        spec = task_input.spec
        self.state: TaskState | None = TaskState(spec=spec, timeline=Timeline(created_at=spec.created_at),
                                                 updated_at=workflow.now())
        self.rec: Recorder | None = Recorder("task", spec.id, lambda: self._state.model_dump(mode="json"))
        self.finished: TaskFinished | None = None
        self.stop_reason: str | None = None  # "cancel" or "deadline"
        self.changed = False

    @workflow.query
    def status(self) -> TaskState:
        return self._state

    @workflow.signal
    def assigned(self, message: AssignedBy) -> None:
        state = self._state
        if state.status in TERMINAL_TASK:
            return
        state.agent_id = message.agent_id
        state.assigned_by = message.assigned_by
        if state.status == TaskStatus.pending:  # (the agent may have started it before this arrived)
            self._set(TaskStatus.queued)
            state.timeline.queued_at = state.timeline.queued_at or message.at or workflow.now()
        self._emit("task.assigned", {"agent_id": message.agent_id, "assigned_by": message.assigned_by})

    @workflow.signal
    def started(self, message: TaskStarted) -> None:
        state = self._state
        if state.status in TERMINAL_TASK:
            return
        state.agent_id = message.agent_id
        if state.timeline.queued_at is None or state.timeline.queued_at > message.at:
            state.timeline.queued_at = message.assigned_at or message.at
        state.timeline.started_at = message.at
        self._set(TaskStatus.running)

    @workflow.signal
    def progress(self, message: TaskProgress) -> None:
        state = self._state
        if state.status in (TaskStatus.pending, TaskStatus.queued) and message.agent_id:
            self.started(TaskStarted(agent_id=message.agent_id, at=workflow.now()))
        if state.status != TaskStatus.running or message.progress <= state.progress:
            return
        state.progress = message.progress
        state.progress_message = message.message
        data: dict[str, Any] = {"progress": message.progress}
        if state.timeline.started_at and message.progress > 0:
            elapsed = workflow.now() - state.timeline.started_at
            eta = state.timeline.started_at + elapsed / message.progress
            data["estimated_completion"] = eta.isoformat()
        self._emit("task.progress", data)

    @workflow.signal
    def finished(self, message: TaskFinished) -> None:
        if self.finished is None:
            self.finished = message

    @workflow.signal
    def decomposed(self, children: list[str]) -> None:
        """A coordinator split this task into subtasks (hierarchical swarms)."""
        self._state.children = children
        self._emit("task.decomposed", {"subtasks": children})

    @workflow.update
    async def update(self, patch: TaskPatch) -> TaskState:
        state = self._state
        spec = state.spec
        if patch.priority is not None:
            spec.priority = patch.priority
        if patch.deadline is not None:
            spec.constraints.deadline = patch.deadline
        if patch.description is not None:
            spec.description = patch.description
        if patch.metadata is not None:
            spec.metadata = {**spec.metadata, **patch.metadata}
        if patch.shared_with is not None:
            spec.shared_with = patch.shared_with
        self._emit("task.updated", {"changes": patch.model_dump(mode="json", exclude_none=True)})
        if patch.priority is not None and spec.swarm_id and state.status == TaskStatus.queued:
            change = {"task_id": spec.id, "priority": patch.priority.value}
            self._recorder.signal(spec.swarm_id, SwarmHandlers.REPRIORITIZE, change)
        await self._recorder.flush()
        return state

    @update.validator
    def _check_update(self, patch: TaskPatch) -> None:
        if self._state.status in TERMINAL_TASK:
            raise ApplicationError(f"Task is already {self._state.status.value}", type="TaskClosed")

    @workflow.update
    async def cancel(self) -> CancelOutcome:
        if self._state.status not in TERMINAL_TASK and self.stop_reason is None:
            self.stop_reason = "cancel"
        await workflow.wait_condition(lambda: self._state.status in TERMINAL_TASK)
        return self._outcome()

    @workflow.run
    async def run(self, task_input: TaskInput) -> TaskState:
        spec = task_input.spec
        now = workflow.now()
        self._recorder.start_pump()
        self._emit("task.created", {"type": spec.type, "priority": spec.priority.value, "swarm_id": spec.swarm_id})
        if spec.swarm_id:
            ticket = TaskTicket(task_id=spec.id, description=spec.description, type=spec.type,
                                priority=spec.priority, requirements=spec.requirements, parent_id=spec.parent_id,
                                submitted_at=now, owner=spec.owner)
            self._recorder.signal(spec.swarm_id, SwarmHandlers.SUBMIT, ticket)
            self.state.timeline.queued_at = now
            self._set(TaskStatus.queued)
        await self._recorder.flush()

        while self._state.status not in TERMINAL_TASK:
            deadline = spec.constraints.deadline
            timeout = None
            if deadline is not None and self.stop_reason is None:
                timeout = max((deadline - workflow.now()).total_seconds(), 0.001)
            try:
                await workflow.wait_condition(lambda: self.finished is not None or self.stop_reason is not None
                                              or self.changed, timeout=timeout)
            except TimeoutError:
                self.stop_reason = "deadline"
            if self.finished is not None:
                self._conclude(self.finished)
            elif self.stop_reason is not None:
                await self._stop()
            self.changed = False
            await self._recorder.flush_soon()
        await self._recorder.flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _stop(self) -> None:
        """Ask whoever holds the task to stop it, then wait (bounded) for their word on the rollback."""
        state = self._state
        reason = self.stop_reason
        holder = state.agent_id or state.spec.swarm_id
        if holder is not None:
            signal = AgentHandlers.CANCEL_TASK if state.agent_id else SwarmHandlers.WITHDRAW
            self._recorder.signal(holder, signal, state.spec.id)
            try:
                await workflow.wait_condition(lambda: self.finished is not None, timeout=CANCEL_GRACE)
            except TimeoutError:
                pass
        finished = self.finished or TaskFinished(agent_id=state.agent_id, status=TaskStatus.cancelled,
                                                 at=workflow.now())
        if reason == "deadline" and finished.status == TaskStatus.cancelled:
            finished = finished.model_copy(update={"status": TaskStatus.failed, "error": "Deadline exceeded"})
        self._conclude(finished)

    def _conclude(self, message: TaskFinished) -> None:
        state = self._state
        if state.status in TERMINAL_TASK:
            return
        if self.stop_reason == "deadline" and message.status == TaskStatus.cancelled:
            message = message.model_copy(update={"status": TaskStatus.failed, "error": "Deadline exceeded"})
        state.agent_id = message.agent_id or state.agent_id
        state.result = message.result
        state.error = message.error
        state.retry_count = message.retry_count
        state.rollback_performed = message.rollback_performed
        if message.status == TaskStatus.cancelled:
            state.timeline.cancelled_at = message.at
            state.timeline.started_at = state.timeline.started_at or message.started_at
        else:
            state.timeline.completed_at = message.at
            state.timeline.started_at = state.timeline.started_at or message.started_at or message.at
            state.progress = 1.0 if message.status == TaskStatus.completed else state.progress
        self._set(message.status)
        duration = state.duration_ms
        if message.status == TaskStatus.completed:
            self._emit("task.completed", {"result": "success", "duration": duration, "agent_id": state.agent_id})
        elif message.status == TaskStatus.failed:
            self._emit("task.failed", {"error": message.error or "failed", "retry_count": message.retry_count,
                                       "agent_id": state.agent_id})
        else:
            self._emit("task.cancelled", {"rollback_performed": message.rollback_performed,
                                          "agent_id": state.agent_id})

    def _outcome(self) -> CancelOutcome:
        state = self._state
        return CancelOutcome(task_id=state.spec.id, status=state.status, cancelled_at=state.timeline.cancelled_at,
                             rollback_performed=state.rollback_performed)

    def _set(self, status: TaskStatus) -> None:
        """Move to `status`; queued and running get a `task.status` event, the ends have their own events."""
        previous = self._state.status
        self._state.status = status
        if previous != status and status in (TaskStatus.queued, TaskStatus.running):
            self._emit("task.status", {"status": status.value, "previous_status": previous.value})

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self._state.updated_at = workflow.now()
        self.changed = True
        self._recorder.emit(kind, {"task_id": self._state.spec.id, **data})

    @property
    def _state(self) -> TaskState:
        assert self.state is not None
        return self.state

    @property
    def _recorder(self) -> Recorder:
        assert self.rec is not None
        return self.rec
