"""`trainingData.source: "history"`: samples from StellarFlow's own finished tasks, read from the projections.

Each finished task (completed or failed, with a measured duration) is a sample: input `taskType`, and from its
swarm (if any) `topology`, `strategy` and `agentCount` (the swarm's live agents as its projection holds them now,
not at the time the task ran — the projection keeps no history of it); output `outcome` (`completed`/`failed`,
a classification) and `durationMs` (the measured duration, a regression). The newest `limit` tasks are used.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.agents.tables import SwarmRow, TaskRow
from core.db import session_scope

FINISHED = ("completed", "failed")
HISTORY_LIMIT = 5000


def _agent_count(swarm: SwarmRow) -> int:
    agents = (swarm.state or {}).get("agents") or []
    return sum(1 for agent in agents if agent.get("status") != "terminated")


def samples(limit: int) -> list[dict[str, Any]]:
    with session_scope() as session:
        tasks = session.exec(
            select(TaskRow).where(TaskRow.status.in_(FINISHED), TaskRow.duration_ms.is_not(None))  # type: ignore
            .order_by(TaskRow.created_at.desc()).limit(limit)  # type: ignore[attr-defined]
        ).all()
        swarm_ids = {task.swarm_id for task in tasks if task.swarm_id}
        swarms = {s.id: s for s in session.exec(select(SwarmRow).where(SwarmRow.id.in_(swarm_ids))).all()} \
            if swarm_ids else {}  # type: ignore[attr-defined]
        out = []
        for task in tasks:
            swarm = swarms.get(task.swarm_id or "")
            out.append({
                "input": {"taskType": task.type or "untyped",
                          "topology": swarm.topology if swarm else "none",
                          "strategy": swarm.strategy if swarm else "none",
                          "agentCount": _agent_count(swarm) if swarm else 1},
                "output": {"outcome": task.status, "durationMs": task.duration_ms},
            })
        return out
