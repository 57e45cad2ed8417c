"""Swarms (`/api/swarms`): list items, status, control outcomes and broadcasts."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from core.agents import figures
from core.agents.contracts import ControlOutcome
from core.agents.state import Directive, SwarmState
from core.agents.swarms import SwarmStatusReport


def swarm(state: SwarmState) -> dict[str, Any]:
    """A list item, also the body of `POST /api/swarms` (agents join as the swarm spawns them)."""
    spec = state.spec
    return {"id": spec.id, "name": spec.name, "topology": spec.topology.value, "strategy": spec.strategy.value,
            "status": state.status.value, "objective": spec.objective, "owner": spec.owner,
            "shared_with": spec.shared_with,
            "agents": [{"id": a.id, "role": a.role, "type": a.type} for a in state.live_agents],
            "progress": figures.task_progress(state),
            "config": {**spec.config, "max_agents": spec.max_agents, "auto_scale": spec.auto_scale},
            "created_at": iso(spec.created_at), "updated_at": iso(state.updated_at or spec.created_at)}


def swarm_status(report: SwarmStatusReport) -> dict[str, Any]:
    state = report.state
    perf = report.performance
    return {
        "id": state.spec.id, "status": state.status.value, "health": report.health,
        "topology": state.spec.topology.value, "strategy": state.spec.strategy.value,
        "agents": report.agents, "tasks": report.tasks, "progress": report.progress,
        # throughput: tasks per minute, null until measured over ≥ 60 s and ≥ 10 tasks (core/rates.py); window:
        # the seconds it is measured over, window_tasks: how many finished tasks; efficiency, coordination_overhead:
        # shares (core/agents/figures.py)
        "performance": {"throughput": perf.throughput, "efficiency": perf.efficiency,
                        "coordination_overhead": perf.coordination_overhead, "window": perf.window_s,
                        "window_tasks": perf.finished},
        # Nothing samples a swarm's live CPU, memory or network: null, with the busy time we did measure.
        "resource_usage": {"cpu": None, "memory": None, "network": None, **report.resource_usage},
        "last_update": iso(state.updated_at or state.spec.created_at),
    }


def control(swarm_id: str, outcome: ControlOutcome) -> dict[str, Any]:
    return {"swarm_id": swarm_id, "action": outcome.action, "status": outcome.status.value,
            "result": outcome.detail}


def broadcast(swarm_id: str, directive: Directive, recipients: int) -> dict[str, Any]:
    return {"swarm_id": swarm_id, "recipients": recipients,
            "message": {"type": directive.type, "content": directive.content, "target": directive.target,
                        "priority": directive.priority.value}}
