"""Swarm resources, their relationships, and the 202 of a swarm start/stop (`/api/v2/swarms`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.dialect2.jsonapi import BASE, to_many
from core.agents import figures
from core.agents.state import SwarmState


def swarm(state: SwarmState, *, detail: bool = False, task_count: int | None = None,
          task_ids: list[str] | None = None) -> dict[str, Any]:
    """A swarm resource. Relationships carry links and counts always, and linkage `data` for agents (the swarm
    knows them) and for tasks when they were fetched (`include=tasks`)."""
    spec = state.spec
    live = state.live_agents
    attributes: dict[str, Any] = {
        "name": spec.name, "objective": spec.objective, "topology": spec.topology.value,
        "status": state.status.value, "maxAgents": spec.max_agents, "strategy": spec.strategy.value,
        "autoScale": spec.auto_scale, "configuration": spec.config, "owner": spec.owner,
        "sharedWith": spec.shared_with,
        "createdAt": iso(spec.created_at), "updatedAt": iso(state.updated_at or spec.created_at),
    }
    if detail:
        avg_ms, success = figures.swarm_averages(state)
        attributes["activeAgents"] = len(live)
        attributes["metrics"] = {"tasksTotal": state.tasks_total, "tasksCompleted": state.tasks_completed,
                                 "tasksFailed": state.tasks_failed, "tasksCancelled": state.tasks_cancelled,
                                 "tasksQueued": len(state.queue), "tasksInProgress": len(state.assigned),
                                 "avgCompletionTime": avg_ms, "successRate": success,
                                 "progress": figures.task_progress(state)}
        attributes["terminatedAt"] = iso(state.terminated_at)
    tasks = relationship(spec.id, "tasks", None if task_ids is None else [("task", i) for i in task_ids],
                         state.tasks_total if task_count is None else task_count)
    agents = relationship(spec.id, "agents", [("agent", a.id) for a in live], len(live))
    return {"id": spec.id, "type": "swarm", "attributes": attributes,
            "relationships": {"agents": agents, "tasks": tasks}, "links": {"self": f"{BASE}/swarms/{spec.id}"}}


def relationship(swarm_id: str, name: str, linkage: list[tuple[str, str]] | None, count: int) -> dict[str, Any]:
    """A swarm's to-many relationship (`agents` or `tasks`)."""
    return to_many(f"{BASE}/swarms/{swarm_id}", name, linkage, count)


def operation_started(operation_id: str, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(data, links) of a 202. No `estimatedTime`: nothing predicts how long a swarm takes to start or stop."""
    return {"message": message, "operationId": operation_id}, {"status": f"{BASE}/operations/{operation_id}"}
