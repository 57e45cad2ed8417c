"""Orchestrations (`/api/v2/tasks/orchestrate`, `/api/v2/orchestrations/{id}`): the spec's `data` bodies. Phase
durations are seconds (as submitted), task execution times milliseconds (as everywhere in dialect 2)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.common.visible import withheld
from api.dialect2.jsonapi import BASE
from core.orchestrations.models import OrchestrationState, PhaseState

# what the body shows of the withheld fields (the plan's requirements and agentConfig are never shown)
REDACTED_NAMES = {"output": "tasks.output", "error": "tasks.error"}


def links(orchestration_id: str, websocket_base: str) -> dict[str, str]:
    return {"self": f"{BASE}/orchestrations/{orchestration_id}",
            "status": f"{BASE}/orchestrations/{orchestration_id}",
            "cancel": f"{BASE}/orchestrations/{orchestration_id}/cancel",
            "websocket": f"{websocket_base}/v2/ws/orchestrations/{orchestration_id}"}


def _agents(phase: PhaseState) -> list[dict[str, Any]]:
    return [{"agentId": s.agent_id, "agentType": s.agent_type, "spawned": s.spawned} for s in phase.slots]


def accepted(state: OrchestrationState) -> dict[str, Any]:
    """The 202 body's `data`: the planned phases (each with the agents planned for it) and the estimate."""
    spec = state.spec
    return {"orchestrationId": spec.id, "status": state.status.value,
            "phases": [{"phaseId": p.phase_id, "name": p.name, "status": p.status.value,
                        "assignedAgents": _agents(p)} for p in state.phases],
            "estimatedCompletion": iso(spec.estimated_completion), "estimateSource": spec.estimate_source}


def orchestration(state: OrchestrationState) -> dict[str, Any]:
    """`GET /api/v2/orchestrations/{id}`: phases with their agents and tasks, progress and the timeline."""
    spec = state.spec
    phases = []
    for phase, plan in zip(state.phases, state.plan, strict=False):
        phases.append({
            "phaseId": phase.phase_id, "name": phase.name, "status": phase.status.value,
            "progress": round(phase.progress, 4), "duration": phase.duration_s,
            "estimatedDuration": phase.estimated_s, "estimateSource": phase.estimate_source,
            "startedAt": iso(phase.started_at), "completedAt": iso(phase.completed_at), "error": phase.error,
            "assignedAgents": _agents(phase),
            "tasks": [{"taskId": s.task_id, "attempts": s.attempts, "agentId": s.agent_id, "agentType": s.agent_type,
                       "description": slot.description or None, "status": s.status.value,
                       "progress": s.progress, "error": s.error,
                       "output": s.output if "output" not in state.redacted else None,
                       "filesCreated": s.files_created, "filesChanged": s.files_changed,
                       "executionTime": s.duration_ms, "startedAt": iso(s.started_at),
                       "completedAt": iso(s.completed_at), "links": {"self": f"{BASE}/tasks/{s.task_id}"}}
                      for s, slot in zip(phase.slots, plan, strict=False)],
        })
    body: dict[str, Any] = {
        "orchestrationId": spec.id, "task": spec.task, "status": state.status.value,
        "strategy": spec.strategy.value, "swarmId": spec.swarm_id, "owner": spec.owner, "sharedWith": spec.shared_with,
        "progress": state.progress,
        "currentPhase": state.phases[state.current_phase].phase_id if state.current_phase is not None else None,
        "phases": phases,
        "agents": {"spawned": state.spawned_agents, "released": state.released_agents},
        "constraints": {"maxDuration": spec.max_duration_s, "requiredCapabilities": spec.required_capabilities},
        "estimatedCompletion": iso(spec.estimated_completion), "estimateSource": spec.estimate_source,
        "error": state.error,
        "timeline": {"createdAt": iso(spec.created_at), "startedAt": iso(state.started_at),
                     "completedAt": iso(state.completed_at), "cancelledAt": iso(state.cancelled_at),
                     "cancelledBy": state.cancelled_by, "updatedAt": iso(state.updated_at)},
    }
    return body


def meta(state: OrchestrationState) -> dict[str, Any] | None:
    names = withheld(state, REDACTED_NAMES)
    return {"redacted": names} if names else None
