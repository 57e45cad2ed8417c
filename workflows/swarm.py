"""SwarmWorkflow: one swarm (workflow id = swarm id `sw-…`): its agents, its task queue, and how the two meet.

Agents are AgentWorkflows of their own (started here, abandoned on close, so continuing as new keeps them);
tasks are TaskWorkflows that submit themselves to the queue. Topology decides *when and in which order* a task
meets agents — hierarchical: a coordinator decomposes (`requirements.subtasks`) and assigns; star/centralized:
assigned centrally on arrival; mesh: only idle agents take work, pulling the highest-priority task whose
`requirements.capabilities` they have; ring: tasks go round the agents in order. Strategy decides *which*
agent — specialized: best capability match; balanced: least loaded; adaptive: best success rate per second,
learned from the reports of finished tasks. All counts and timings come from those reports."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

from core.agents import scheduling
from core.ids import id_at
from workflows.entity import ContinuesAsNew
from workflows.recording import Recorder

with workflow.unsafe.imports_passed_through():
    from core.agents.contracts import (
        AgentHandlers,
        AgentInput,
        AgentReport,
        AgentTemplate,
        ControlOutcome,
        ControlRequest,
        JoinRequest,
        StopRequest,
        SwarmInput,
        SwarmPatch,
        TaskFinished,
        TaskHandlers,
        TaskInput,
        TaskStarted,
        TerminateRequest,
    )
    from core.agents.models import (
        PRIORITY_RANK,
        AgentSpec,
        AgentStatus,
        Priority,
        SwarmStatus,
        TaskResult,
        TaskSpec,
        TaskStatus,
        Topology,
    )
    from core.agents.state import RECENT_KEPT, Directive, ParentProgress, SwarmAgent, SwarmState, TaskTicket
    from core.names import AGENT_WORKFLOW, SWARM_WORKFLOW, TASK_WORKFLOW

DIRECTIVES_KEPT = 50


@workflow.defn(name=SWARM_WORKFLOW, sandboxed=False)
class SwarmWorkflow(ContinuesAsNew):
    @workflow.init
    def __init__(self, swarm_input: SwarmInput) -> None:
        # State exists before any handler runs: a signal can arrive in the very first activation (a continued run
        # gets the submits and reports that raced the continue-as-new). The projection leaves out the queue and
        # the in-flight tickets: list views do not read them, and a swarm with thousands of queued tasks would
        # otherwise rewrite them all on every flush.
        self.input: SwarmInput | None = swarm_input
        self.state: SwarmState | None = swarm_input.state or SwarmState(spec=swarm_input.spec,
                                                                        started_at=workflow.now())
        self.rec: Recorder | None = Recorder(
            "swarm", self.state.spec.id,
            lambda: self._state.model_dump(mode="json", exclude={"queue", "tickets", "recent"}),
            self.state.seq, durable_signals=True)  # its signals carry decisions: which agent runs which task
        self.wake = True  # a continued run may carry queued work: look at it at once
        self.ending = False
        self.spawn_requests: list[tuple[str, int, dict[str, Any]]] = []  # (type, count, overrides)
        self.decompose: list[TaskTicket] = []
        self.initial_tasks: list[str | dict[str, Any]] = []
        self.outbox: dict[str, list[dict[str, Any]]] | None = None
        self.progressed = False  # one swarm.progress event per pass of the loop, not one per report

    # ---- queries, signals, updates ----------------------------------------------------------------------------

    @workflow.query
    def status(self) -> SwarmState:
        return self._state

    @workflow.signal
    def submit(self, ticket: TaskTicket) -> None:
        state = self._state
        if ticket.task_id in state.assigned or ticket.task_id in state.recent or any(
                t.task_id == ticket.task_id for t in state.queue):
            return  # a repeated submit (a retried write of the task may send it twice)
        if state.status == SwarmStatus.terminated:
            self._tell(ticket.task_id, TaskHandlers.FINISHED,
                       TaskFinished(status=TaskStatus.cancelled, at=workflow.now(), error="swarm terminated"))
            return
        state.queue.append(ticket)
        state.tasks_total += 1
        self.progressed = True
        self.wake = True

    @workflow.signal
    def report(self, message: AgentReport) -> None:
        state = self._state
        if state.assigned.get(message.task_id) != message.agent_id:
            return  # a repeated report (signals may be sent twice), or one for a task given to another agent since
        agent = state.agent(message.agent_id)
        ticket = state.tickets.pop(message.task_id, None)
        state.assigned.pop(message.task_id, None)
        if agent is not None and message.task_id in agent.in_flight:
            agent.in_flight.remove(message.task_id)
        if message.status == TaskStatus.pending:  # handed back unstarted (rebalance, or the agent left)
            if ticket is not None:
                state.queue.append(ticket)
            self.wake = True
            return
        if agent is not None:
            if message.status == TaskStatus.completed:
                agent.completed += 1
            elif message.status == TaskStatus.failed:
                agent.failed += 1
            if message.status != TaskStatus.cancelled:
                agent.total_ms += message.duration_ms
        self._count(message.status)
        state.recent = [*state.recent, message.task_id][-RECENT_KEPT:]
        if ticket is not None and ticket.parent_id and ticket.parent_id in state.parents:
            self._child_done(ticket.parent_id, message)
        self.progressed = True
        self.wake = True

    @workflow.signal
    def withdraw(self, task_id: str) -> None:
        """The task was cancelled: drop it from the queue, or have its agent stop it."""
        state = self._state
        for ticket in list(state.queue):
            if ticket.task_id == task_id:
                state.queue.remove(ticket)
                self._count(TaskStatus.cancelled)
                self._tell(task_id, TaskHandlers.FINISHED, TaskFinished(status=TaskStatus.cancelled, at=workflow.now()))
                self.wake = True
                return
        agent_id = state.assigned.get(task_id)
        if agent_id is not None:
            self._recorder.signal(agent_id, AgentHandlers.CANCEL_TASK, task_id)
        elif task_id in state.parents:
            for child in state.parents[task_id].children:
                self.withdraw(child)

    @workflow.signal
    def reprioritize(self, change: dict[str, str]) -> None:
        for ticket in self._state.queue:
            if ticket.task_id == change.get("task_id"):
                ticket.priority = Priority(change["priority"])
                self.wake = True

    @workflow.signal
    def agent_left(self, agent_id: str) -> None:
        agent = self._state.agent(agent_id)
        if agent is not None and agent.status != AgentStatus.terminated:
            agent.status = AgentStatus.terminated
            self._recorder.emit("swarm.agent_left", {"swarm_id": self._state.spec.id, "agent_id": agent_id})
            self.wake = True

    @workflow.update
    async def join(self, request: JoinRequest) -> SwarmState:
        self._add_agent(request.agent_id, request.type, request.name, request.role, request.capabilities)
        self.wake = True
        await self._recorder.flush()
        return self._state

    @join.validator
    def _check_join(self, request: JoinRequest) -> None:
        state = self._state
        if state.status == SwarmStatus.terminated or self.ending:
            raise ApplicationError("Swarm is terminated", type="SwarmTerminated")
        if len(state.live_agents) >= state.spec.max_agents:
            raise ApplicationError(f"Swarm already has maxAgents ({state.spec.max_agents}) agents",
                                   type="SwarmFull")

    @workflow.update
    async def configure(self, patch: SwarmPatch) -> SwarmState:
        spec = self._state.spec
        previous_topology = spec.topology
        for field in ("name", "objective", "max_agents", "strategy", "auto_scale"):
            value = getattr(patch, field)
            if value is not None:
                setattr(spec, field, value)
        if patch.config is not None:
            spec.config = {**spec.config, **patch.config}
        if patch.shared_with is not None:
            spec.shared_with = patch.shared_with
        if patch.topology is not None and patch.topology != previous_topology:
            spec.topology = patch.topology
            self._topology_changed(previous_topology, "configuration", {})
        self._recorder.emit("swarm.updated", {"swarm_id": spec.id, "changes": patch.model_dump(mode="json",
                                                                                             exclude_none=True)})
        self.wake = True
        await self._recorder.flush()
        return self._state

    @configure.validator
    def _check_configure(self, patch: SwarmPatch) -> None:
        self._check_open()

    @workflow.update
    async def control(self, request: ControlRequest) -> ControlOutcome:
        state = self._state
        action = request.action
        detail: dict[str, Any] = {}
        if action in ("pause", "stop"):
            self._set_status(SwarmStatus.paused)
        elif action in ("resume", "start"):
            self._set_status(SwarmStatus.active)
        elif action == "scale":
            detail = self._scale(request.parameters)
        elif action == "optimize":
            detail = self._optimize()
        elif action == "rebalance":
            detail = self._rebalance()
        self.wake = True
        self._recorder.end_operation(request.operation_id, result={"action": action, **detail})
        await self._recorder.flush()
        return ControlOutcome(action=action, status=state.status, detail=detail)

    @control.validator
    def _check_control(self, request: ControlRequest) -> None:
        self._check_open()
        if request.action not in ("pause", "resume", "start", "stop", "scale", "optimize", "rebalance"):
            raise ApplicationError(f"Unknown action {request.action!r}", type="InvalidAction")

    @workflow.update
    async def stop(self, request: StopRequest) -> ControlOutcome:
        """Pause; graceful waits (up to the timeout) for running tasks, then the rest are cancelled. With
        `terminate`, the swarm then ends: its agents are terminated and queued tasks cancelled."""
        state = self._state
        self._set_status(SwarmStatus.paused)
        await self._recorder.flush()
        if request.graceful and state.assigned:
            try:
                await workflow.wait_condition(lambda: not state.assigned, timeout=request.timeout_s)
            except TimeoutError:
                pass
        cancelled = list(state.assigned)
        for task_id, agent_id in list(state.assigned.items()):
            self._recorder.signal(agent_id, AgentHandlers.CANCEL_TASK, task_id)
        detail = {"graceful": request.graceful, "cancelled_tasks": cancelled}
        if request.terminate:
            self.ending = True
            await workflow.wait_condition(lambda: state.status == SwarmStatus.terminated)
        else:
            self._recorder.end_operation(request.operation_id, result={"action": "stop", **detail})
            await self._recorder.flush()
        return ControlOutcome(action="delete" if request.terminate else "stop", status=state.status, detail=detail)

    @stop.validator
    def _check_stop(self, request: StopRequest) -> None:
        self._check_open()
        if request.terminate and not request.force and (self._state.assigned or self._state.queue):
            raise ApplicationError("Swarm has active tasks; pass force=true to delete it anyway",
                                   type="SwarmBusy")

    @workflow.update
    async def broadcast(self, directive: Directive) -> int:
        state = self._state
        directive.at = workflow.now()
        recipients = [a for a in state.live_agents if directive.target in ("all", a.id, a.type, a.role)]
        for agent in recipients:
            self._recorder.signal(agent.id, AgentHandlers.DIRECTIVE, directive)
        state.directives = [*state.directives, directive][-DIRECTIVES_KEPT:]
        self._recorder.emit("swarm.broadcast", {"swarm_id": state.spec.id, "message": directive.model_dump(
            mode="json"), "recipients": [a.id for a in recipients]})
        await self._recorder.flush()
        return len(recipients)

    @broadcast.validator
    def _check_broadcast(self, directive: Directive) -> None:
        self._check_open()

    # ---- the run ----------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, swarm_input: SwarmInput) -> SwarmState:
        fresh = swarm_input.state is None
        self._recorder.start_pump()
        state = self._state
        if fresh:
            self._recorder.emit("swarm.created", {"swarm_id": state.spec.id, "topology": state.spec.topology.value,
                                                  "strategy": state.spec.strategy.value})
            for group in state.spec.initial_agents:
                overrides = {k: v for k, v in group.items() if k not in ("type", "count")}
                self.spawn_requests.append((str(group["type"]), int(group.get("count", 1)), overrides))
            if state.spec.topology == Topology.hierarchical and not any(
                    str(g.get("type")) == "coordinator" for g in state.spec.initial_agents):
                self.spawn_requests.insert(0, ("coordinator", 1, {}))
            self.initial_tasks = list(state.spec.tasks)
            await self._recorder.flush()
            await self._spawn_pending()
            self._set_status(SwarmStatus.active)
            await self._create_initial_tasks()
            await self._recorder.flush()

        while not self.ending:
            await workflow.wait_condition(lambda: self.wake or self.ending or bool(self.spawn_requests)
                                          or self._history_full())
            self.wake = False
            if self.ending:
                break
            await self._spawn_pending()
            self._dispatch()
            self._autoscale()
            await self._decompose_pending()
            if self.progressed:
                self.progressed = False
                self._progress_event()
            if self.spawn_requests:
                await self._spawn_pending()
                self._dispatch()
            await self._recorder.flush_soon()
            if self._history_full():
                await self._continue_as_new()

        await self._terminate()
        return self._state

    # ---- assignment -------------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        state = self._state
        if state.status != SwarmStatus.active or not state.queue:
            return
        self.outbox = {}  # agent id → assignments made in this pass, sent as one signal per agent
        state.queue.sort(key=lambda t: (-PRIORITY_RANK[t.priority], t.submitted_at))
        for ticket in list(state.queue):
            if scheduling.is_decomposable(state, ticket):
                state.queue.remove(ticket)
                self.decompose.append(ticket)
                continue
            choice = scheduling.choose(state, ticket)
            state.ring_pointer = choice.ring_pointer
            if choice.agent is None:
                continue
            state.queue.remove(ticket)
            self._assign(ticket, choice.agent)
        for agent_id, batch in self.outbox.items():
            if len(batch) == 1:
                self._recorder.signal(agent_id, AgentHandlers.ENQUEUE, batch[0])
            else:
                self._recorder.signal(agent_id, AgentHandlers.ENQUEUE_BATCH, batch)
        self.outbox = None

    def _assign(self, ticket: TaskTicket, agent: SwarmAgent, assigned_by: str | None = None) -> None:
        state = self._state
        lead = scheduling.coordinator(state)
        by = assigned_by or (lead.id if lead else state.spec.id)
        state.assigned[ticket.task_id] = agent.id
        state.tickets[ticket.task_id] = ticket
        agent.in_flight.append(ticket.task_id)
        assignment = {
            "task_id": ticket.task_id, "description": ticket.description, "type": ticket.type,
            "priority": ticket.priority.value, "requirements": ticket.requirements, "assigned_by": by,
            "owner": ticket.owner,
        }
        if self.outbox is not None:
            self.outbox.setdefault(agent.id, []).append(assignment)
        else:
            self._recorder.signal(agent.id, AgentHandlers.ENQUEUE, assignment)
        self._recorder.emit("swarm.task_assigned", {"swarm_id": state.spec.id, "task_id": ticket.task_id,
                                                    "agent_id": agent.id, "assigned_by": by,
                                                    "agent_load": agent.load})

    # ---- hierarchical decomposition ---------------------------------------------------------------------------

    async def _decompose_pending(self) -> None:
        """The coordinator splits each task into its subtasks, which enter the queue as tasks of their own; the
        parent completes when they all have (results merged), fails if any failed."""
        state = self._state
        while self.decompose:
            ticket = self.decompose.pop(0)
            coordinator = scheduling.coordinator(state)
            assert coordinator is not None
            base = {k: v for k, v in ticket.requirements.items() if k != "subtasks"}
            children: list[str] = []
            for item in ticket.requirements["subtasks"]:
                sub = {"description": item} if isinstance(item, str) else dict(item)
                requirements = {**base, **(sub.get("requirements") or {})}
                if "command" in sub:
                    requirements["command"] = sub["command"]
                child_id = self._new_id("tk")
                spec = TaskSpec(id=child_id, type=sub.get("type") or ticket.type,
                                description=str(sub.get("description") or sub.get("command") or ticket.description),
                                priority=ticket.priority, requirements=requirements, swarm_id=state.spec.id,
                                parent_id=ticket.task_id, owner=ticket.owner, created_at=workflow.now())
                await workflow.start_child_workflow(TASK_WORKFLOW, TaskInput(spec=spec), id=child_id,
                                                    parent_close_policy=ParentClosePolicy.ABANDON)
                children.append(child_id)
            state.parents[ticket.task_id] = ParentProgress(children=children)
            state.assigned[ticket.task_id] = coordinator.id
            state.tickets[ticket.task_id] = ticket
            self._tell(ticket.task_id, TaskHandlers.STARTED, TaskStarted(agent_id=coordinator.id, at=workflow.now()))
            self._tell(ticket.task_id, TaskHandlers.DECOMPOSED, children)
            self._recorder.signal(coordinator.id, AgentHandlers.DELEGATED, len(children))
            self._recorder.emit("swarm.task_decomposed", {"swarm_id": state.spec.id, "task_id": ticket.task_id,
                                                          "coordinator": coordinator.id, "subtasks": children})

    def _child_done(self, parent_id: str, message: AgentReport) -> None:
        state = self._state
        progress = state.parents[parent_id]
        progress.done[message.task_id] = message.status.value
        progress.duration_ms += message.duration_ms
        if message.result is not None:
            progress.files_created.extend(message.result.files_created)
        if len(progress.done) < len(progress.children):
            return
        failed = [c for c, s in progress.done.items() if s != TaskStatus.completed.value]
        status = TaskStatus.failed if failed else TaskStatus.completed
        result = TaskResult(success=not failed, executor="coordinator", duration_ms=progress.duration_ms,
                            files_created=progress.files_created,
                            output=f"{len(progress.children) - len(failed)}/{len(progress.children)} subtasks done",
                            error=f"subtasks not completed: {', '.join(failed)}" if failed else None)
        coordinator = state.assigned.pop(parent_id, None)
        state.tickets.pop(parent_id, None)
        del state.parents[parent_id]
        self._tell(parent_id, TaskHandlers.FINISHED, TaskFinished(agent_id=coordinator, status=status, result=result,
                                                       error=result.error, at=workflow.now()))
        self._count(status)

    # ---- control actions --------------------------------------------------------------------------------------

    def _scale(self, parameters: dict[str, Any]) -> dict[str, Any]:
        state = self._state
        agent_type = str(parameters.get("agent_type") or parameters.get("agentType") or "")
        count = int(parameters.get("count", 1))
        operation = parameters.get("operation", "add")
        if operation == "add":
            added = scheduling.room_to_add(state, count, self._pending_spawns())
            if added:
                self.spawn_requests.append((agent_type, added, {}))
            return {"operation": "add", "agent_type": agent_type, "requested": count, "added": added}
        removed = scheduling.to_remove(state, agent_type, count)
        for agent in removed:
            self._recorder.signal(agent.id, AgentHandlers.TERMINATE_SIGNAL, TerminateRequest(reason="scaled down"))
        self._recorder.emit("swarm.scaled", {"swarm_id": state.spec.id, "operation": "remove",
                                             "agents": [a.id for a in removed]})
        return {"operation": "remove", "agent_type": agent_type, "requested": count,
                "removed": [a.id for a in removed]}

    def _optimize(self) -> dict[str, Any]:
        state = self._state
        choice = scheduling.optimal_topology(state)
        if choice.changed:
            state.spec.topology = choice.topology
            self._topology_changed(choice.previous, "optimization", choice.measured)
        return {"topology": choice.topology.value, "previous_topology": choice.previous.value,
                "changed": choice.changed, "measured": choice.measured}

    def _rebalance(self) -> dict[str, Any]:
        busy = scheduling.overloaded(self._state)
        for agent in busy:
            self._recorder.signal(agent.id, AgentHandlers.RELEASE_QUEUED)
        self._recorder.emit("swarm.rebalanced", {"swarm_id": self._state.spec.id, "agents": [a.id for a in busy]})
        return {"agents_asked": [a.id for a in busy]}

    def _autoscale(self) -> None:
        state = self._state
        wanted = scheduling.autoscale(state, self._pending_spawns(), self._input.agent_types)
        if wanted is None:
            return
        self.spawn_requests.append((wanted, 1, {}))
        self._recorder.emit("swarm.scaled", {"swarm_id": state.spec.id, "operation": "add", "reason": "auto_scale",
                                             "agent_type": wanted, "queued": len(state.queue)})

    def _pending_spawns(self) -> int:
        return sum(count for _, count, _ in self.spawn_requests)

    # ---- agents -----------------------------------------------------------------------------------------------

    async def _spawn_pending(self) -> None:
        state = self._state
        starts = []
        while self.spawn_requests:
            agent_type, count, overrides = self.spawn_requests.pop(0)
            template = self._input.agent_types.get(agent_type, AgentTemplate())
            for _ in range(count):
                if len(state.live_agents) >= state.spec.max_agents:
                    break
                state.spawned += 1
                agent_id = self._new_id("ag")
                first_lead = agent_type == "coordinator" and scheduling.coordinator(state) is None
                role = "coordinator" if first_lead else "worker"
                config = {**self._input.agent_config, **(overrides.get("config") or {})}
                capabilities = list(overrides.get("capabilities") or template.capabilities)
                name = str(overrides.get("name") or f"{agent_type}-{state.spawned}")
                if count > 1 and overrides.get("name"):
                    name = f"{overrides['name']}-{state.spawned}"
                spec = AgentSpec(id=agent_id, name=name, type=agent_type, capabilities=capabilities, config=config,
                                 metadata=dict(overrides.get("metadata") or {}), swarm_id=state.spec.id, role=role,
                                 executor=str(config.get("executor") or template.executor), owner=state.spec.owner,
                                 shared_with=list(state.spec.shared_with), created_at=workflow.now())
                self._add_agent(agent_id, agent_type, name, role, capabilities)
                starts.append(workflow.start_child_workflow(
                    AGENT_WORKFLOW,
                    AgentInput(spec=spec, heartbeat_timeout_s=self._input.heartbeat_timeout_s,
                               task_timeout_s=self._input.task_timeout_s),
                    id=agent_id, parent_close_policy=ParentClosePolicy.ABANDON,
                ))
        if starts:
            await asyncio.gather(*starts)

    def _add_agent(self, agent_id: str, agent_type: str, name: str, role: str, capabilities: list[str]) -> None:
        state = self._state
        if state.agent(agent_id) is not None:
            return
        state.agents.append(SwarmAgent(id=agent_id, type=agent_type, name=name, role=role,
                                       capabilities=capabilities, status=AgentStatus.idle, joined_at=workflow.now()))
        self._recorder.emit("swarm.agent_joined", {"swarm_id": state.spec.id, "agent_id": agent_id, "role": role,
                                                   "type": agent_type})

    async def _create_initial_tasks(self) -> None:
        state = self._state
        starts = []
        for item in self.initial_tasks:
            task = {"description": item} if isinstance(item, str) else dict(item)
            task_id = self._new_id("tk")
            spec = TaskSpec(id=task_id, type=task.get("type"), description=str(task.get("description", "")),
                            priority=Priority(task.get("priority", "medium")),
                            requirements=dict(task.get("requirements") or {}), swarm_id=state.spec.id,
                            owner=state.spec.owner, created_at=workflow.now())
            starts.append(workflow.start_child_workflow(TASK_WORKFLOW, TaskInput(spec=spec), id=task_id,
                                                        parent_close_policy=ParentClosePolicy.ABANDON))
        self.initial_tasks = []
        if starts:
            await asyncio.gather(*starts)

    async def _terminate(self) -> None:
        state = self._state
        for agent in state.live_agents:
            self._recorder.signal(agent.id, AgentHandlers.TERMINATE_SIGNAL, TerminateRequest(reason="swarm deleted"))
            agent.status = AgentStatus.terminated
        for ticket in state.queue:
            self._tell(ticket.task_id, TaskHandlers.FINISHED,
                       TaskFinished(status=TaskStatus.cancelled, at=workflow.now(), error="swarm deleted"))
            self._count(TaskStatus.cancelled)
        state.queue = []
        state.terminated_at = workflow.now()
        self._set_status(SwarmStatus.terminated)
        await self._recorder.settle()
        await workflow.wait_condition(workflow.all_handlers_finished)

    # ---- helpers ----------------------------------------------------------------------------------------------

    def _count(self, status: TaskStatus) -> None:
        state = self._state
        if status == TaskStatus.completed:
            state.tasks_completed += 1
        elif status == TaskStatus.failed:
            state.tasks_failed += 1
        elif status == TaskStatus.cancelled:
            state.tasks_cancelled += 1

    def _progress_event(self) -> None:
        state = self._state
        done = state.tasks_completed + state.tasks_failed + state.tasks_cancelled
        self._recorder.emit("swarm.progress", {
            "swarm_id": state.spec.id, "progress": round(done / state.tasks_total, 4) if state.tasks_total else 0.0,
            "tasks_completed": state.tasks_completed, "tasks_remaining": max(state.tasks_total - done, 0)})

    def _topology_changed(self, previous: Topology, reason: str, measured: dict[str, Any]) -> None:
        state = self._state
        self._recorder.emit("swarm.topology_changed", {
            "swarm_id": state.spec.id, "topology": state.spec.topology.value,
            "previous_topology": previous.value, "reason": reason, "measured": measured})

    def _set_status(self, status: SwarmStatus) -> None:
        state = self._state
        previous = state.status
        state.updated_at = workflow.now()
        if previous == status:
            return
        state.status = status
        self._recorder.emit("swarm.status", {"swarm_id": state.spec.id, "status": status.value,
                                             "previous_status": previous.value})
        self.wake = True

    def _check_open(self) -> None:
        if self._state.status == SwarmStatus.terminated or self.ending:
            raise ApplicationError("Swarm is terminated", type="SwarmTerminated")

    def _tell(self, workflow_id: str, signal: str, message: Any) -> None:
        self._recorder.signal(workflow_id, signal, message)

    def _new_id(self, prefix: str) -> str:
        return id_at(prefix, int(workflow.now().timestamp() * 1000), workflow.random().randbytes(10))

    def _ending(self) -> bool:
        return self.ending  # a deleting `stop` Update waits for the main loop: end instead of continuing

    def _work_pending(self) -> bool:
        # Work that arrived while settling is done first; a new run would not look at it until woken again.
        return bool(self.wake or self.spawn_requests or self.decompose or self._recorder.commands
                    or self._recorder.outgoing)

    @property
    def _state(self) -> SwarmState:
        assert self.state is not None
        return self.state

    @property
    def _input(self) -> SwarmInput:
        assert self.input is not None
        return self.input

    @property
    def _recorder(self) -> Recorder:
        assert self.rec is not None
        return self.rec
