"""AgentWorkflow: one agent, alive until terminated (workflow id = agent id `ag-…`).

Lifecycle initializing → idle ⇄ active → terminated. Tasks arrive by Update (the API) or signal (the agent's
swarm), wait in a priority queue, and run one at a time through the `execute_task` activity in a per-task
workspace; the task's own TaskWorkflow and the swarm hear about start and end by signal. Metrics and history
are what those runs measured. Terminating cancels the running task (which rolls its workspace back)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from workflows.entity import ContinuesAsNew
from workflows.recording import Recorder

with workflow.unsafe.imports_passed_through():
    from core.agents.contracts import (
        AgentInput,
        AgentPatch,
        AgentPulse,
        AgentReport,
        AssignAck,
        ExecuteTaskInput,
        RollbackRequest,
        SwarmHandlers,
        TaskFinished,
        TaskHandlers,
        TerminateRequest,
    )
    from core.agents.models import PRIORITY_RANK, AgentStatus, TaskResult, TaskStatus
    from core.agents.state import (
        HISTORY_KEPT,
        RECENT_KEPT,
        AgentState,
        Assignment,
        CurrentTask,
        Directive,
        HistoryEntry,
    )
    from core.names import AGENT_WORKFLOW, EXECUTE_TASK, PROVISION_WORKSPACE, ROLLBACK_WORKSPACE

NON_RETRYABLE = ["ExecutorNotConfigured", "InvalidParameters", "InvalidTask"]
DIRECTIVES_KEPT = 20


@workflow.defn(name=AGENT_WORKFLOW, sandboxed=False)
class AgentWorkflow(ContinuesAsNew):
    @workflow.init
    def __init__(self, agent_input: AgentInput) -> None:
        # State exists before any handler runs: a signal can arrive in the very first activation.
        self.input: AgentInput | None = agent_input
        self.state: AgentState | None = agent_input.state or AgentState(spec=agent_input.spec,
                                                                        started_at=workflow.now())
        self.rec: Recorder | None = Recorder("agent", self.state.spec.id,
                                             lambda: self._state.model_dump(mode="json", exclude={"recent"}),
                                             self.state.seq)
        self.terminating = False
        self.cancel_current = False
        self.running_task: asyncio.Task[Any] | None = None
        self.running_id: str | None = None

    # ---- queries, updates, signals ----------------------------------------------------------------------------

    @workflow.query
    def status(self) -> AgentState:
        return self._state

    @workflow.query
    def health(self) -> AgentPulse:
        state = self._state
        return AgentPulse(status=state.status, last_heartbeat=state.last_heartbeat, started_at=state.started_at,
                          terminated_at=state.terminated_at, queue_size=len(state.queue),
                          current_task=state.current_task.id if state.current_task else None,
                          last_task=state.history[-1] if state.history else None)

    @workflow.update
    async def assign(self, assignment: Assignment) -> AssignAck:
        return self._enqueue(assignment)

    @assign.validator
    def _check_assign(self, assignment: Assignment) -> None:
        if self.terminating or (self.state and self.state.status == AgentStatus.terminated):
            raise ApplicationError("Agent is terminated", type="AgentTerminated")

    @workflow.signal
    def enqueue(self, assignment: Assignment) -> None:
        if self.terminating:
            # A swarm raced a termination: hand the task straight back so it is assigned elsewhere.
            self._report(assignment.task_id, TaskStatus.pending, 0, None)
            return
        self._enqueue(assignment)

    @workflow.signal
    def enqueue_batch(self, assignments: list[Assignment]) -> None:
        """Several tasks at once (a swarm assigning a burst sends one signal per agent, not one per task)."""
        for assignment in assignments:
            self.enqueue(assignment)

    @workflow.signal
    def cancel_task(self, task_id: str) -> None:
        """Cancel a queued or running task (the task's own cancel, or its deadline, asked for it)."""
        state = self._state
        for queued in list(state.queue):
            if queued.task_id == task_id:
                state.queue.remove(queued)
                self._tell_task(task_id, TaskFinished(agent_id=state.spec.id, status=TaskStatus.cancelled,
                                                      at=workflow.now()))
                self._report(task_id, TaskStatus.cancelled, 0, None)
                self._recorder.touch()
                return
        if self.running_id == task_id and self.running_task is not None:
            self.cancel_current = True
            self.running_task.cancel()

    @workflow.signal
    def release_queued(self) -> None:
        """Hand every queued (not started) task back to the swarm, which assigns them again (rebalance)."""
        state = self._state
        released, state.queue = state.queue, []
        for item in released:
            self._report(item.task_id, TaskStatus.pending, 0, None)
        if released:
            self._recorder.emit("agent.released", {"agent_id": state.spec.id, "tasks": [i.task_id for i in released]})

    @workflow.signal
    def directive(self, directive: Directive) -> None:
        state = self._state
        state.directives = [*state.directives, directive][-DIRECTIVES_KEPT:]
        state.metrics.messages_received += 1
        self._recorder.emit("agent.directive", {"agent_id": state.spec.id,
                                                "directive": directive.model_dump(mode="json")})

    @workflow.signal
    def delegated(self, count: int) -> None:
        """This agent (a coordinator) decomposed a task into `count` subtasks and handed them out."""
        self._state.metrics.tasks_delegated += count
        self._recorder.touch()

    @workflow.update
    async def configure(self, patch: AgentPatch) -> AgentState:
        spec = self._state.spec
        if patch.name is not None:
            spec.name = patch.name
        if patch.config is not None:
            spec.config = {**spec.config, **patch.config}
            if "executor" in patch.config and patch.config["executor"]:
                spec.executor = str(patch.config["executor"])
        if patch.metadata is not None:
            spec.metadata = {**spec.metadata, **patch.metadata}
        if patch.capabilities is not None:
            spec.capabilities = patch.capabilities
        if patch.shared_with is not None:
            spec.shared_with = patch.shared_with
        self._recorder.emit("agent.updated", {"agent_id": spec.id, "changes": patch.model_dump(exclude_none=True)})
        await self._recorder.flush()
        return self._state

    @configure.validator
    def _check_configure(self, patch: AgentPatch) -> None:
        if self.terminating:
            raise ApplicationError("Agent is terminated", type="AgentTerminated")

    @workflow.update
    async def terminate(self, request: TerminateRequest) -> AgentState:
        self._begin_termination(request.reason or "terminated by request")
        await workflow.wait_condition(lambda: self._state.status == AgentStatus.terminated)
        return self._state

    @workflow.signal
    def terminate_signal(self, request: TerminateRequest) -> None:
        self._begin_termination(request.reason or "terminated by its swarm")

    # ---- the run ----------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, agent_input: AgentInput) -> AgentState:
        fresh = agent_input.state is None
        self._recorder.start_pump()
        if fresh:
            self._set_status(AgentStatus.initializing)
            await self._recorder.flush()
            self.state.workspace = await workflow.execute_activity(
                PROVISION_WORKSPACE, self.state.spec.id, result_type=str,
                start_to_close_timeout=timedelta(seconds=60),
            )
            if not self.terminating:
                self._set_status(AgentStatus.idle)
            await self._recorder.flush()

        while not self.terminating:
            await workflow.wait_condition(
                lambda: bool(self._state.queue) or self.terminating
                or self._history_full()
            )
            if self.terminating:
                break
            if self._history_full():  # start afresh with the same state (the queue included)
                await self._continue_as_new()
                continue
            assignment = self._state.queue.pop(0)
            await self._run_task(assignment)
            await self._recorder.flush_soon()

        await self._finish_termination()
        return self._state

    async def _run_task(self, assignment: Assignment) -> None:
        state = self._state
        spec = state.spec
        started = workflow.now()
        state.current_task = CurrentTask(id=assignment.task_id, description=assignment.description, started_at=started)
        state.last_heartbeat = started
        self._set_status(AgentStatus.active)
        # The task hears that it runs from the executor's first progress signal (sent from inside the activity),
        # so starting the work waits for no write or signal here; the events above go with the next flush.
        workspace = f"{state.workspace}/{assignment.task_id}"
        request = ExecuteTaskInput(
            task_id=assignment.task_id, agent_id=spec.id, executor=spec.executor, workspace=workspace,
            description=assignment.description, type=assignment.type, requirements=assignment.requirements,
            config=spec.config, agent_type=spec.type,
            cognitive_pattern=spec.config.get("cognitivePattern") or spec.config.get("cognitive_pattern"),
            directives=[d.content for d in state.directives[-5:]], timeout_s=assignment.timeout_s,
            owner=assignment.owner,  # memory is read as the task's owner, never as the agent's
        )
        timeout = assignment.timeout_s or self._input.task_timeout_s
        self.running_id = assignment.task_id
        self.cancel_current = False
        self.running_task = asyncio.create_task(workflow.execute_activity(
            EXECUTE_TASK, request, result_type=TaskResult,
            start_to_close_timeout=timedelta(seconds=timeout + 30),
            heartbeat_timeout=timedelta(seconds=self._input.heartbeat_timeout_s),
            retry_policy=RetryPolicy(maximum_attempts=self._input.max_attempts,
                                     non_retryable_error_types=NON_RETRYABLE),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        ))
        result: TaskResult | None = None
        error: str | None = None
        rollback = False
        retries = 0
        try:
            result = await self.running_task
            status = TaskStatus.completed if result.success else TaskStatus.failed
            error = result.error
        except (ActivityError, CancelledError, asyncio.CancelledError) as err:
            if self.cancel_current or isinstance(err, (CancelledError, asyncio.CancelledError)) or isinstance(
                    getattr(err, "cause", None), CancelledError):
                status = TaskStatus.cancelled
                rollback = await workflow.execute_activity(
                    ROLLBACK_WORKSPACE, RollbackRequest(task_id=assignment.task_id, workspace=workspace),
                    result_type=bool, start_to_close_timeout=timedelta(seconds=120),
                )
            else:
                status = TaskStatus.failed
                error = _cause_message(err)
                retries = self._input.max_attempts - 1 if _retried_out(err) else 0
        finally:
            self.running_task = None
            self.running_id = None

        ended = workflow.now()
        duration_ms = int((ended - started).total_seconds() * 1000)
        self._account(assignment, status, result, started, ended, duration_ms)
        self._tell_task(assignment.task_id, TaskFinished(
            agent_id=spec.id, status=status, result=result, error=error, rollback_performed=rollback,
            retry_count=retries, started_at=started, at=ended))
        self._report(assignment.task_id, status, duration_ms, result)
        state.current_task = None
        state.last_heartbeat = ended
        if not self.terminating:
            self._set_status(AgentStatus.idle if not state.queue else AgentStatus.active)

    def _account(self, assignment: Assignment, status: TaskStatus, result: TaskResult | None, started: Any,
                 ended: Any, duration_ms: int) -> None:
        state = self._state
        metrics = state.metrics
        if status == TaskStatus.completed:
            metrics.tasks_completed += 1
        elif status == TaskStatus.failed:
            metrics.tasks_failed += 1
        else:
            metrics.tasks_cancelled += 1
        if status != TaskStatus.cancelled:
            metrics.total_duration_ms += duration_ms
        metrics.busy_ms += duration_ms
        if result is not None:
            if result.cpu_time_s is not None:
                metrics.cpu_time_s += result.cpu_time_s
                metrics.last_cpu_time_s = result.cpu_time_s
            if result.memory_peak_mb is not None:
                metrics.memory_peak_mb = max(metrics.memory_peak_mb, result.memory_peak_mb)
                metrics.last_memory_mb = result.memory_peak_mb
            metrics.api_calls += result.api_calls or 0
            metrics.tokens += result.tokens.total if result.tokens else 0
        state.recent = [*state.recent, assignment.task_id][-RECENT_KEPT:]
        outcome = {"completed": "success", "failed": "failure"}.get(status.value, "cancelled")
        state.history = [*state.history, HistoryEntry(
            task_id=assignment.task_id, description=assignment.description, started_at=started, completed_at=ended,
            duration_ms=duration_ms, result=outcome, exit_code=result.exit_code if result else None,
            cpu_time_s=result.cpu_time_s if result else None, memory_peak_mb=result.memory_peak_mb if result else None,
        )][-HISTORY_KEPT:]
        self._recorder.emit("agent.metrics", {
            "agent_id": state.spec.id, "task_id": assignment.task_id, "result": outcome, "duration": duration_ms,
            "metrics": {"tasks_completed": metrics.tasks_completed, "tasks_failed": metrics.tasks_failed,
                        "cpu": result.cpu_time_s if result else None,
                        "memory": result.memory_peak_mb if result else None},
        })

    # ---- helpers ----------------------------------------------------------------------------------------------

    def _enqueue(self, assignment: Assignment) -> AssignAck:
        state = self._state
        known = [a.task_id for a in state.queue]
        if assignment.task_id == self.running_id:
            return AssignAck(agent_id=state.spec.id, task_id=assignment.task_id, queue_position=0)
        if assignment.task_id in state.recent:  # already ran: a repeated assignment never runs it twice
            return AssignAck(agent_id=state.spec.id, task_id=assignment.task_id, queue_position=0)
        if assignment.task_id in known:  # a retried assignment: same answer, nothing queued twice
            return AssignAck(agent_id=state.spec.id, task_id=assignment.task_id,
                             queue_position=known.index(assignment.task_id) + 1)
        assignment.assigned_at = assignment.assigned_at or workflow.now()
        rank = PRIORITY_RANK[assignment.priority]
        position = next((i for i, a in enumerate(state.queue) if PRIORITY_RANK[a.priority] < rank), len(state.queue))
        state.queue.insert(position, assignment)
        state.metrics.messages_received += 1
        self._recorder.emit("agent.task_assigned", {"agent_id": state.spec.id, "task_id": assignment.task_id,
                                                    "assigned_by": assignment.assigned_by})
        busy = 1 if self.running_id else 0
        return AssignAck(agent_id=state.spec.id, task_id=assignment.task_id, queue_position=position + busy,
                         assigned_at=assignment.assigned_at)

    def _set_status(self, status: AgentStatus) -> None:
        state = self._state
        previous = state.status
        state.updated_at = workflow.now()
        state.last_heartbeat = state.updated_at
        if previous == status and self._recorder.seq:
            return
        state.status = status
        self._recorder.emit("agent.status", {"agent_id": state.spec.id, "status": status.value,
                                             "previous_status": previous.value})

    def _tell_task(self, task_id: str, message: BaseModel) -> None:
        self._recorder.signal(task_id, TaskHandlers.FINISHED, message)

    def _report(self, task_id: str, status: TaskStatus, duration_ms: int, result: TaskResult | None) -> None:
        swarm_id = self._state.spec.swarm_id
        if swarm_id:
            report = AgentReport(agent_id=self._state.spec.id, task_id=task_id, status=status,
                                 duration_ms=duration_ms, result=result, at=workflow.now())
            self._recorder.signal(swarm_id, SwarmHandlers.REPORT, report)

    def _begin_termination(self, reason: str) -> None:
        if self.terminating:
            return
        self.terminating = True
        self._state.terminate_reason = reason
        if self.running_task is not None:
            self.cancel_current = True
            self.running_task.cancel()

    async def _finish_termination(self) -> None:
        state = self._state
        if self.running_task is not None:  # let the cancelled task roll back and report first
            await workflow.wait_condition(lambda: self.running_task is None)
        for queued in state.queue:
            if state.spec.swarm_id:  # the swarm gives it to another agent
                self._report(queued.task_id, TaskStatus.pending, 0, None)
            else:
                self._tell_task(queued.task_id, TaskFinished(agent_id=state.spec.id, status=TaskStatus.cancelled,
                                                             error="agent terminated", at=workflow.now()))
        state.queue = []
        state.terminated_at = workflow.now()
        self._set_status(AgentStatus.terminated)
        if state.spec.swarm_id:
            self._recorder.signal(state.spec.swarm_id, SwarmHandlers.AGENT_LEFT, state.spec.id)
        await self._recorder.flush()
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _ending(self) -> bool:
        return self.terminating  # a terminate Update waits for the main loop: end instead of continuing

    @property
    def _state(self) -> AgentState:
        assert self.state is not None
        return self.state

    @property
    def _input(self) -> AgentInput:
        assert self.input is not None
        return self.input

    @property
    def _recorder(self) -> Recorder:
        assert self.rec is not None
        return self.rec


def _cause_message(err: BaseException) -> str:
    cause: BaseException | None = err
    while cause is not None and getattr(cause, "cause", None) is not None:
        cause = cause.cause  # type: ignore[attr-defined]
    return str(getattr(cause, "message", None) or cause or err)


def _retried_out(err: BaseException) -> bool:
    from temporalio.exceptions import RetryState

    return getattr(err, "retry_state", None) == RetryState.MAXIMUM_ATTEMPTS_REACHED
