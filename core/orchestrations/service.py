"""Orchestrations: submit (plan and start), read (live), cancel.

Submitting checks everything that can be known before anything runs — agent types, required capabilities (400
naming those no agent type offers), the swarm (404, 403, 409), quotas (one task per agent slot against
`tasks_per_hour`, the agents to spawn against `agents`) — then plans who runs each slot
(`core.orchestrations.planning.assign`), estimates the completion from measured durations of similar finished tasks
(else from the declared phase durations; `estimate_source` says which), seeds the projection and starts
OrchestrationWorkflow (`orch-…`). Reads follow the task rules (core/access.py): everyone signed in sees an
orchestration's shape and progress; task outputs and requirements are for its owner, admins and those it is shared
with. Cancelling needs the owner or an admin."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import select
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from core.access import Caller, may_read, require_use, require_write
from core.agents.config_rules import check_agent_config, refuse_secrets
from core.agents.entities import live_state, update
from core.agents.lookup import live_agents_of, require_swarm
from core.agents.models import AgentStatus, SwarmStatus, TaskStatus
from core.agents.tables import TaskRow
from core.agents.tasks import estimate_duration_s, tasks_created_since
from core.agents.types import registry, resolve
from core.db import session_scope
from core.errors import Conflict, NotFound, Unavailable, ValidationFailed
from core.events.contracts import EntityRecord
from core.events.models import Event
from core.events.store import record
from core.ids import new_id
from core.limits.quotas import check_quota, quota_limit
from core.names import ORCHESTRATION_WORKFLOW
from core.orchestrations import planning
from core.orchestrations.contracts import CancelRequest, OrchestrationHandlers, OrchestrationInput
from core.orchestrations.models import (
    OrchestrationSpec,
    OrchestrationState,
    OrchestrationStrategy,
    PhaseSpec,
    PhaseState,
    PhaseStatus,
    SlotState,
)
from core.orchestrations.projection import ORCHESTRATION_PROJECTION
from core.orchestrations.tables import OrchestrationRow
from core.settings import Settings
from core.sharing import check_shared_with
from core.temporal import SA_DEFINITION, SA_STATUS, SA_TRIGGER, check_workflow_input

PREFIX = "orch-"


class OrchestrationCreate(BaseModel):
    task: str = Field(min_length=1, max_length=100_000)
    strategy: OrchestrationStrategy = OrchestrationStrategy.parallel
    phases: list[PhaseSpec] = Field(min_length=1, max_length=50)
    max_duration_s: float | None = Field(default=None, gt=0)
    required_capabilities: list[str] = Field(default_factory=list, max_length=100)
    swarm_id: str | None = None
    agent_config: dict[str, Any] = Field(default_factory=dict)
    shared_with: list[str] = Field(default_factory=list)


def _invalid(field: str, constraint: str, message: str, **extra: Any) -> ValidationFailed:
    return ValidationFailed("Request validation failed",
                            details=[{"field": field, "constraint": constraint, "message": message, **extra}])


def _check(body: OrchestrationCreate, settings: Settings, caller: Caller) -> dict[str, list[str]]:
    """The agent types and capabilities the request names; returns each type's capabilities."""
    for p, phase in enumerate(body.phases):
        for a, agent_type in enumerate(phase.agents):
            resolve(agent_type, settings.agent_types, field=f"requirements.phases.{p}.agents.{a}")
        if phase.tasks is not None and len(phase.tasks) != len(phase.agents):
            raise _invalid(f"requirements.phases.{p}.tasks", "length",
                           f"give one task per agent slot ({len(phase.agents)}), or none")
        refuse_secrets(phase.requirements, f"requirements.phases.{p}.requirements")
        for t, task in enumerate(phase.tasks or []):
            refuse_secrets(task.requirements, f"requirements.phases.{p}.tasks.{t}.requirements")
    offered = {name: list(kind.capabilities) for name, kind in registry(settings.agent_types).items()}
    unknown = planning.unknown_capabilities(body.required_capabilities, offered)
    if unknown:
        raise ValidationFailed(f"No agent type offers the required capabilities: {', '.join(unknown)}", details=[{
            "field": "requirements.constraints.requiredCapabilities", "constraint": "capability", "value": unknown,
            "message": f"no agent type offers {', '.join(unknown)}; operators add agent types "
                       "(with their capabilities) in STELLARFLOW_AGENT_TYPES"}])
    uncovered = planning.uncovered_capabilities(body.required_capabilities, body.phases, offered)
    if uncovered:
        raise ValidationFailed(f"No agent type in the phases offers: {', '.join(uncovered)}", details=[{
            "field": "requirements.constraints.requiredCapabilities", "constraint": "capability",
            "value": uncovered, "message": f"add an agent type offering {', '.join(uncovered)} to a phase"}])
    check_agent_config(body.agent_config, None, settings, caller, field="agentConfig")
    return offered


def _check_quotas(settings: Settings, tier: str, owner: str, slots: int, spawns: int) -> None:
    now = datetime.now(UTC)
    if quota_limit(tier, "tasks_per_hour", settings) is not None:
        used, oldest = tasks_created_since(owner, now - timedelta(hours=1))
        retry_after = None
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            retry_after = max((oldest + timedelta(hours=1) - now).total_seconds(), 1)
        check_quota(tier, "tasks_per_hour", used, slots, settings=settings, retry_after=retry_after)
    if spawns and quota_limit(tier, "agents", settings) is not None:
        check_quota(tier, "agents", live_agents_of(owner), spawns, settings=settings)


def _candidates(body: OrchestrationCreate, caller: Caller) -> list[planning.Candidate]:
    if body.swarm_id is None:
        return []
    swarm = require_swarm(body.swarm_id)
    require_use(caller, swarm.spec.owner, swarm.spec.shared_with, "swarm", body.swarm_id, "orchestrate on it")
    if swarm.status == SwarmStatus.terminated:
        raise Conflict(f"Swarm {body.swarm_id} is terminated")
    return [planning.Candidate(id=a.id, type=a.type, capabilities=a.capabilities)
            for a in swarm.agents if a.status != AgentStatus.terminated]


def _estimate(state: OrchestrationState) -> None:
    """Each slot's measured estimate, each phase's, and the whole's (`estimated_completion`, `estimate_source`)."""
    spec = state.spec
    for slots in state.plan:
        for slot in slots:
            slot.estimated_s = estimate_duration_s(slot.type, slot.requirements.get("command"))
    phases = []
    for phase_spec, slots, phase in zip(spec.phases, state.plan, state.phases, strict=True):
        seconds, source = planning.phase_estimate(slots, spec.strategy, phase_spec.duration_s)
        phase.estimated_s, phase.estimate_source = seconds, source
        phases.append((seconds, source))
    total, source = planning.total_estimate(phases, spec.max_duration_s)
    spec.estimate_source = source
    spec.estimated_completion = spec.created_at + timedelta(seconds=total) if total is not None else None


def plan_orchestration(body: OrchestrationCreate, settings: Settings, caller: Caller, tier: str) -> OrchestrationState:
    """Everything before the workflow starts (blocking: database reads). 400/403/404/409/429 before anything is
    created."""
    offered = _check(body, settings, caller)
    shared = check_shared_with(body.shared_with) or []
    candidates = _candidates(body, caller)
    executor_of = {name: str(body.agent_config.get("executor") or kind.executor)
                   for name, kind in registry(settings.agent_types).items()}
    plan = planning.assign(body.phases, candidates, body.required_capabilities, offered, executor_of,
                           lambda: new_id("ag"), lambda: new_id("tk"), body.task)
    spawns = len({slot.agent_id for slots in plan for slot in slots if slot.spawn})
    _check_quotas(settings, tier, caller.id, sum(len(p.agents) for p in body.phases), spawns)
    now = datetime.now(UTC)
    spec = OrchestrationSpec(id=new_id("orch"), task=body.task, strategy=body.strategy, phases=body.phases,
                             max_duration_s=body.max_duration_s, required_capabilities=body.required_capabilities,
                             swarm_id=body.swarm_id, agent_config=body.agent_config, owner=caller.id,
                             shared_with=shared, created_at=now)
    phases = [PhaseState(phase_id=f"ph-{i + 1}", name=phase.name, duration_s=phase.duration_s,
                         slots=[SlotState(index=j, agent_type=slot.agent_type, agent_id=slot.agent_id,
                                          spawned=slot.spawn, task_id=slot.task_id) for j, slot in enumerate(slots)])
              for i, (phase, slots) in enumerate(zip(body.phases, plan, strict=True))]
    state = OrchestrationState(spec=spec, plan=plan, phases=phases, updated_at=now)
    _estimate(state)
    return state


async def orchestrate(client: Client, settings: Settings, body: OrchestrationCreate, *, caller: Caller,
                      tier: str) -> OrchestrationState:
    state = await asyncio.to_thread(plan_orchestration, body, settings, caller, tier)
    spec = state.spec
    workflow_input = OrchestrationInput(spec=spec, plan=state.plan, phases=state.phases,
                                        heartbeat_timeout_s=settings.heartbeat_timeout_s,
                                        task_timeout_s=settings.executor_timeout_s)
    check_workflow_input(workflow_input, "orchestration")
    await asyncio.to_thread(seed_projection_of, state)
    try:
        await client.start_workflow(
            ORCHESTRATION_WORKFLOW, workflow_input, id=spec.id, task_queue=settings.task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(SA_STATUS, "planning"),
                                                     SearchAttributePair(SA_DEFINITION, "orchestration"),
                                                     SearchAttributePair(SA_TRIGGER, "api")]))
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the orchestration: {err.message}") from None
    return view(state, caller)


def seed_projection_of(state: OrchestrationState) -> None:
    """The first projection row (seq 0) and the `orchestration.created` event, before the workflow runs."""
    spec = state.spec
    data = {"orchestration_id": spec.id, "strategy": spec.strategy.value, "phases": [p.name for p in spec.phases],
            "estimated_completion": spec.estimated_completion.isoformat() if spec.estimated_completion else None,
            "estimate_source": spec.estimate_source}
    record(EntityRecord(kind=ORCHESTRATION_PROJECTION.kind, id=spec.id, seq=0, snapshot=state.model_dump(mode="json"),
                        events=[Event(seq=0, type="orchestration.created", at=datetime.now(UTC), data=data)]),
           ORCHESTRATION_PROJECTION)


def orchestration_row(orchestration_id: str) -> OrchestrationState | None:
    with session_scope() as session:
        row = session.get(OrchestrationRow, orchestration_id)
        return OrchestrationState.model_validate(row.state) if row is not None else None


async def _state(client: Client, orchestration_id: str) -> OrchestrationState:
    if not orchestration_id.startswith(PREFIX) or len(orchestration_id) > 100:
        raise NotFound("orchestration", orchestration_id[:100])
    return await live_state(client, orchestration_id, OrchestrationState,
                            lambda: orchestration_row(orchestration_id), "orchestration")


def view(state: OrchestrationState, caller: Caller) -> OrchestrationState:
    """The orchestration as `caller` may see it: task outputs, errors and requirements withheld from anyone not
    entitled to its results (named in `redacted`)."""
    if may_read(caller, state.spec.owner, state.spec.shared_with):
        return state
    phases = [phase.model_copy(update={
        "slots": [s.model_copy(update={"output": "", "error": None}) for s in phase.slots],
        "error": planning.failure_summary(phase.slots) if phase.status == PhaseStatus.failed else phase.error,
    }) for phase in state.phases]
    failed = next((p for p in phases if p.status == PhaseStatus.failed), None)
    error = f"phase {failed.name!r} failed: {failed.error}" if failed is not None else state.error
    plan = [[slot.model_copy(update={"requirements": {}, "description": ""}) for slot in slots]
            for slots in state.plan]
    return state.withheld(("output", "error", "requirements", "agent_config"), phases=phases, plan=plan, error=error,
                          spec=state.spec.model_copy(update={"agent_config": {}}))


def with_live_tasks(state: OrchestrationState) -> OrchestrationState:
    """The workflow learns how a task went when it ends; until then its slot shows the task's own projection
    (queued → running, progress), read in one query."""
    open_slots = {s.task_id: s for p in state.phases for s in p.slots
                  if s.attempts and s.status in (TaskStatus.pending, TaskStatus.queued, TaskStatus.running)}
    if not open_slots:
        return state
    with session_scope() as session:
        rows = session.exec(select(TaskRow.id, TaskRow.status, TaskRow.progress)
                            .where(TaskRow.id.in_(list(open_slots)))).all()  # type: ignore[attr-defined]
    for task_id, status, progress in rows:
        slot = open_slots[task_id]
        slot.status, slot.progress = TaskStatus(status), progress or 0.0
    return state


async def get_orchestration(client: Client, orchestration_id: str, *, caller: Caller) -> OrchestrationState:
    state = await _state(client, orchestration_id)
    return view(await asyncio.to_thread(with_live_tasks, state), caller)


async def cancel_orchestration(client: Client, orchestration_id: str, *, caller: Caller) -> OrchestrationState:
    """Stop every running task of it (each agent stops and rolls its workspace back), skip the phases left and
    release the agents spawned for it; answers once all of that has happened. Owner or admin."""
    current = await _state(client, orchestration_id)
    require_write(caller, current.spec.owner, "orchestration", orchestration_id, "cancel")
    if current.status.value in ("completed", "failed", "cancelled"):
        raise Conflict(f"Orchestration {orchestration_id} is already {current.status.value}")
    state = await update(client, orchestration_id, OrchestrationHandlers.CANCEL,
                         CancelRequest(by=caller.username), OrchestrationState, "orchestration")
    return view(state, caller)
