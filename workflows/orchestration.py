"""OrchestrationWorkflow: one orchestration (workflow id `orch-…`), planning → running → completed | failed |
cancelled.

Phases run in order. A phase starts one child TaskWorkflow per agent slot — all at once (`parallel`), one after
another (`sequential`), or all at once and then the failed ones once more, one after another (`adaptive`) — and
hands each to the slot's agent (found in the swarm at submit, or spawned here as a child AgentWorkflow and released
at the end). What a phase produced (outputs, files) seeds the next phase's tasks. A phase's `duration` is its tasks'
deadline, `maxDuration` the whole's; a task that does not complete fails its phase, which fails the orchestration
(the policy is `core.orchestrations.planning.phase_outcome`). Cancel stops every running task through its agent
(which rolls the workspace back), and asks Temporal to cancel any child still open after a grace period."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

from core.orchestrations import planning
from workflows.recording import Recorder

with workflow.unsafe.imports_passed_through():
    from core.agents.contracts import AgentHandlers, AgentInput, AssignedBy, TaskHandlers, TaskInput, TerminateRequest
    from core.agents.models import AgentSpec, TaskConstraints, TaskSpec, TaskStatus
    from core.agents.state import Assignment, TaskState
    from core.names import AGENT_WORKFLOW, GATHER_HANDOVER, ORCHESTRATION_WORKFLOW, TASK_WORKFLOW
    from core.orchestrations.contracts import (
        CancelRequest,
        Handover,
        HandoverFile,
        HandoverRequest,
        OrchestrationInput,
    )
    from core.orchestrations.models import (
        TERMINAL_ORCHESTRATION,
        OrchestrationState,
        OrchestrationStatus,
        OrchestrationStrategy,
        PhaseState,
        PhaseStatus,
        SlotPlan,
    )
    from core.temporal import SA_STATUS

CANCEL_GRACE = timedelta(seconds=90)  # agents stop and roll back; then Temporal cancels what is still open
RELEASE_WAIT = timedelta(seconds=120)  # how long the end waits for spawned agents to finish terminating
HANDOVER_TIMEOUT = timedelta(seconds=60)
TASK_END = (TaskStatus.completed, TaskStatus.failed, TaskStatus.cancelled)


@workflow.defn(name=ORCHESTRATION_WORKFLOW, sandboxed=False)
class OrchestrationWorkflow:
    @workflow.init
    def __init__(self, inp: OrchestrationInput) -> None:
        self.input = inp
        self.state = OrchestrationState(spec=inp.spec, plan=inp.plan, phases=inp.phases,
                                        updated_at=workflow.now())
        self.rec = Recorder("orchestration", inp.spec.id, lambda: self.state.model_dump(mode="json"))
        self.cancel_requested = False
        self.open_tasks: dict[str, tuple[str, Any]] = {}  # task id → (agent id, child handle)
        self.agent_handles: dict[str, Any] = {}  # spawned agent id → child handle
        self.artifacts: dict[str, list[dict[str, Any]]] = {}  # task id → its stored files (handed on)

    @workflow.query
    def status(self) -> OrchestrationState:
        return self.state

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrchestrationState:
        if self.state.status not in TERMINAL_ORCHESTRATION and not self.cancel_requested:
            self.cancel_requested = True
            self.state.cancelled_by = request.by
            self._emit("orchestration.cancel_requested", {"by": request.by, "reason": request.reason,
                                                         "open_tasks": sorted(self.open_tasks)})
            for task_id, (agent_id, _) in list(self.open_tasks.items()):
                self.rec.signal(agent_id, AgentHandlers.CANCEL_TASK, task_id)
            await self.rec.flush()
            try:
                await workflow.wait_condition(lambda: not self.open_tasks, timeout=CANCEL_GRACE)
            except TimeoutError:  # an agent that does not answer: Temporal cancels the task workflow itself
                for _, handle in list(self.open_tasks.values()):
                    handle.cancel()
        await workflow.wait_condition(lambda: self.state.status in TERMINAL_ORCHESTRATION)
        return self.state

    @workflow.run
    async def run(self, inp: OrchestrationInput) -> OrchestrationState:
        state = self.state
        spec = state.spec
        self.rec.start_pump()
        state.started_at = workflow.now()
        self._set_status(OrchestrationStatus.running)
        self._emit("orchestration.started", {"phases": len(state.phases), "strategy": spec.strategy.value})
        await self.rec.flush()
        deadline = state.started_at + timedelta(seconds=spec.max_duration_s) if spec.max_duration_s else None
        cancelled_in_temporal = False
        try:
            ending = await self._phases(deadline)
        except asyncio.CancelledError:  # cancelled from Temporal (UI, CLI): the same cascade, then end as Canceled
            cancelled_in_temporal = self.cancel_requested = True
            state.cancelled_by = state.cancelled_by or "temporal"
            ending = (OrchestrationStatus.cancelled, "cancelled through Temporal")
            await self._stop_open_tasks()
        for phase in state.phases:
            if phase.status == PhaseStatus.pending:
                phase.status = PhaseStatus.skipped
            elif phase.status == PhaseStatus.running:  # interrupted by a cancel from Temporal
                phase.status, phase.completed_at = PhaseStatus.cancelled, workflow.now()
        await self._release_agents()
        state.error = ending[1]
        if ending[0] == OrchestrationStatus.cancelled:
            state.cancelled_at = workflow.now()
        else:
            state.completed_at = workflow.now()
        state.current_phase = None
        self._set_status(ending[0])
        duration = int((workflow.now() - state.started_at).total_seconds() * 1000)
        self._emit(f"orchestration.{ending[0].value}", {"status": ending[0].value, "duration": duration,
                                                        "error": state.error, "progress": state.progress})
        await self.rec.flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if cancelled_in_temporal:
            raise asyncio.CancelledError("cancelled through Temporal")
        return state

    async def _phases(self, deadline: datetime | None) -> tuple[OrchestrationStatus, str | None]:
        """Run the phases in order; how the orchestration ends (status, error)."""
        state = self.state
        previous: list[dict[str, Any]] = []  # every finished phase's results, handed to the next
        handover = Handover()
        for index, phase in enumerate(state.phases):
            if self.cancel_requested:
                return OrchestrationStatus.cancelled, None
            if deadline is not None and workflow.now() >= deadline:
                return OrchestrationStatus.failed, "maxDuration exceeded before phase " + repr(phase.name)
            state.current_phase = index
            results = await self._run_phase(index, deadline, previous, handover)
            if phase.status == PhaseStatus.cancelled:
                return OrchestrationStatus.cancelled, None
            if phase.status == PhaseStatus.failed:
                return OrchestrationStatus.failed, f"phase {phase.name!r} failed: {phase.error}"
            previous = [*previous, *results]
            if index + 1 < len(state.phases):
                handover = await self._gather(results, handover)
        return OrchestrationStatus.completed, None

    # ---- phases -------------------------------------------------------------------------------------------------

    async def _run_phase(self, index: int, deadline: datetime | None, previous: list[dict[str, Any]],
                         handover: Handover) -> list[dict[str, Any]]:
        phase = self.state.phases[index]
        plan = self.input.plan[index]
        now = workflow.now()
        ends = [d for d in (deadline, now + timedelta(seconds=phase.duration_s) if phase.duration_s else None) if d]
        phase_deadline = min(ends) if ends else None
        phase.status = PhaseStatus.running
        phase.started_at = now
        await self._spawn(plan, phase.name)
        self._emit("orchestration.phase_started", {
            "phase_id": phase.phase_id, "name": phase.name, "index": index,
            "deadline": phase_deadline.isoformat() if phase_deadline else None,
            "slots": [{"agent_id": s.agent_id, "agent_type": s.agent_type, "task_id": s.task_id}
                      for s in phase.slots]})
        await self.rec.flush()
        strategy = self.state.spec.strategy
        if strategy == OrchestrationStrategy.sequential:
            for slot in range(len(plan)):
                await self._run_slot(phase, plan[slot], slot, plan[slot].task_id, phase_deadline,
                                     previous + self._results(phase), handover)
        else:
            await asyncio.gather(*(self._run_slot(phase, plan[slot], slot, plan[slot].task_id, phase_deadline,
                                                  previous, handover) for slot in range(len(plan))))
            if strategy == OrchestrationStrategy.adaptive:
                for slot, state in enumerate(phase.slots):
                    if state.status == TaskStatus.failed and not self.cancel_requested:
                        self._emit("orchestration.task_retry", {"phase_id": phase.phase_id, "slot": slot,
                                                                "failed_task_id": state.task_id,
                                                                "task_id": plan[slot].retry_task_id})
                        await self._run_slot(phase, plan[slot], slot, plan[slot].retry_task_id, phase_deadline,
                                             previous + self._results(phase), handover)
        phase.status, phase.error = planning.phase_outcome(phase.slots, self.cancel_requested)
        phase.completed_at = workflow.now()
        self._emit(f"orchestration.phase_{phase.status.value}", {
            "phase_id": phase.phase_id, "name": phase.name, "status": phase.status.value, "error": phase.error,
            "duration": int((phase.completed_at - now).total_seconds() * 1000)})
        await self.rec.flush()
        return self._results(phase)

    def _results(self, phase: PhaseState) -> list[dict[str, Any]]:
        return [planning.slot_result(s, phase.name, self.artifacts.get(s.task_id, []))
                for s in phase.slots if s.status in TASK_END and s.attempts]

    async def _run_slot(self, phase: PhaseState, plan: SlotPlan, index: int, task_id: str,
                        phase_deadline: datetime | None, previous: list[dict[str, Any]], handover: Handover) -> None:
        slot = phase.slots[index]
        spec = self.state.spec
        now = workflow.now()
        if self.cancel_requested:
            slot.status, slot.error = TaskStatus.cancelled, "cancelled before it started"
            return
        if phase_deadline is not None and now >= phase_deadline:
            slot.status, slot.error = TaskStatus.failed, "the phase's duration ran out before it started"
            return
        context = {"orchestrationId": spec.id, "task": spec.task, "phase": phase.name,
                   "contextFile": planning.CONTEXT_FILE, "previous": previous}
        files = {**handover.files,
                 planning.CONTEXT_FILE: planning.context_document(spec.id, spec.task, phase.name, previous,
                                                                  handover.skipped),
                 **(plan.requirements.get("files") or {})}
        requirements = {**plan.requirements, "files": files, "orchestration": context}
        timeout_s = (phase_deadline - now).total_seconds() if phase_deadline else None
        task = TaskSpec(id=task_id, type=plan.type, description=plan.description, requirements=requirements,
                        constraints=TaskConstraints(deadline=phase_deadline),
                        metadata={"orchestrationId": spec.id, "phase": phase.name, "slot": index},
                        owner=spec.owner, shared_with=list(spec.shared_with), estimated_duration_s=plan.estimated_s,
                        created_at=now)
        handle = await workflow.start_child_workflow(TASK_WORKFLOW, TaskInput(spec=task), id=task_id,
                                                     result_type=TaskState,
                                                     parent_close_policy=ParentClosePolicy.ABANDON)
        self.open_tasks[task_id] = (plan.agent_id, handle)
        slot.task_id = task_id
        slot.attempts = [*slot.attempts, task_id]
        slot.status, slot.error, slot.started_at = TaskStatus.queued, None, now
        self.rec.signal(plan.agent_id, AgentHandlers.ENQUEUE, Assignment(
            task_id=task_id, description=plan.description, type=plan.type, requirements=requirements,
            timeout_s=timeout_s, assigned_by=spec.id, assigned_at=now, owner=spec.owner))
        self.rec.signal(task_id, TaskHandlers.ASSIGNED, AssignedBy(agent_id=plan.agent_id, assigned_by=spec.id, at=now))
        if self.cancel_requested:  # asked while the task was starting: the cancel Update did not see it
            self.rec.signal(plan.agent_id, AgentHandlers.CANCEL_TASK, task_id)
        self._emit("orchestration.task_started", {"phase_id": phase.phase_id, "slot": index, "task_id": task_id,
                                                  "agent_id": plan.agent_id, "agent_type": plan.agent_type,
                                                  "attempt": len(slot.attempts)})
        await self.rec.flush()
        try:
            # shielded: a cancel from Temporal must not cancel the task workflow itself — its agent stops it (run)
            result: TaskState = await asyncio.shield(handle)
        except ChildWorkflowError as err:  # the task workflow was cancelled or terminated in Temporal
            self.open_tasks.pop(task_id, None)
            slot.status = TaskStatus.cancelled if self.cancel_requested else TaskStatus.failed
            slot.error = str(err.cause or err)
        except asyncio.CancelledError:  # this orchestration was cancelled in Temporal; `run` stops the open tasks
            slot.status, slot.error, slot.completed_at = TaskStatus.cancelled, "cancelled", workflow.now()
            raise
        else:
            self.open_tasks.pop(task_id, None)
            slot.status, slot.error, slot.progress = result.status, result.error, result.progress
            if result.result is not None:
                slot.output = result.result.output[-planning.OUTPUT_KEPT:]
                slot.files_created = result.result.files_created
                slot.files_changed = result.result.files_changed
                self.artifacts[task_id] = [{"path": a.path, "id": a.id, "url": a.url}
                                           for a in result.result.artifacts if a.id]
            slot.duration_ms = result.duration_ms
        slot.completed_at = workflow.now()
        self._emit("orchestration.task_finished", {"phase_id": phase.phase_id, "slot": index, "task_id": task_id,
                                                   "agent_id": plan.agent_id, "status": slot.status.value,
                                                   "duration": slot.duration_ms, "error": slot.error})
        await self.rec.flush_soon()

    async def _stop_open_tasks(self) -> None:
        """Have each open task's agent stop it (and roll its workspace back); wait, bounded, until they have."""
        for task_id, (agent_id, _) in list(self.open_tasks.items()):
            self.rec.signal(agent_id, AgentHandlers.CANCEL_TASK, task_id)
        await self.rec.flush()
        handles = [handle for _, handle in self.open_tasks.values()]
        try:
            await workflow.wait_condition(lambda: all(h.done() for h in handles), timeout=CANCEL_GRACE)
        except TimeoutError:
            pass
        self.open_tasks.clear()

    async def _gather(self, results: list[dict[str, Any]], handover: Handover) -> Handover:
        """The phase's stored files, read back for the next phase's workspaces (added over the earlier phases')."""
        files = [HandoverFile(path=a["path"], artifact_id=a["id"]) for r in results if r["status"] == "completed"
                 for a in r["artifacts"]]
        if not files:
            return handover
        found = await workflow.execute_activity(
            GATHER_HANDOVER, HandoverRequest(orchestration_id=self.state.spec.id, files=files),
            result_type=Handover, start_to_close_timeout=HANDOVER_TIMEOUT)
        return Handover(files={**handover.files, **found.files}, skipped=[*handover.skipped, *found.skipped])

    # ---- agents -------------------------------------------------------------------------------------------------

    async def _spawn(self, plan: list[SlotPlan], phase: str) -> None:
        spec = self.state.spec
        for slot in plan:
            if not slot.spawn or slot.agent_id in self.agent_handles:
                continue
            agent = AgentSpec(id=slot.agent_id, name=f"{slot.agent_type}-{spec.id[-6:].lower()}-"
                                                     f"{len(self.agent_handles) + 1}",
                              type=slot.agent_type, capabilities=slot.capabilities, config=dict(spec.agent_config),
                              metadata={"orchestrationId": spec.id}, executor=slot.executor, owner=spec.owner,
                              shared_with=list(spec.shared_with), created_at=workflow.now())
            self.agent_handles[slot.agent_id] = await workflow.start_child_workflow(
                AGENT_WORKFLOW, AgentInput(spec=agent, heartbeat_timeout_s=self.input.heartbeat_timeout_s,
                                           task_timeout_s=self.input.task_timeout_s),
                id=slot.agent_id, parent_close_policy=ParentClosePolicy.TERMINATE)
            self.state.spawned_agents = [*self.state.spawned_agents, slot.agent_id]
            self._emit("orchestration.agent_spawned", {"agent_id": slot.agent_id, "agent_type": slot.agent_type,
                                                       "phase": phase})

    async def _release_agents(self) -> None:
        """Terminate the agents spawned for this orchestration and wait (bounded) until they have ended."""
        if not self.agent_handles:
            return
        for agent_id in self.agent_handles:
            self.rec.signal(agent_id, AgentHandlers.TERMINATE_SIGNAL,
                            TerminateRequest(reason="orchestration ended", by=self.state.spec.id))
        await self.rec.flush()
        pending = list(self.agent_handles.values())
        try:
            await workflow.wait_condition(lambda: all(h.done() for h in pending), timeout=RELEASE_WAIT)
        except TimeoutError:
            pass
        self.state.released_agents = list(self.agent_handles)
        self._emit("orchestration.agents_released", {"agent_ids": list(self.agent_handles)})

    # ---- helpers ------------------------------------------------------------------------------------------------

    def _set_status(self, status: OrchestrationStatus) -> None:
        previous = self.state.status
        self.state.status = status
        workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])
        if previous != status:
            self._emit("orchestration.status", {"status": status.value, "previous_status": previous.value})

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self.state.updated_at = workflow.now()
        self.rec.emit(kind, {"orchestration_id": self.state.spec.id, **data})
