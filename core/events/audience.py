"""Who may see an event on a stream: the read rules of REST (core/access.py, docs/access.md) applied to events.

Everyone signed in sees an object's metadata, so events that carry only metadata (status changes, assignments,
progress figures, topology) go to every reader. Everything else — a task's error, a step's outputs or error, a run's
log lines, an agent's directives — goes only to readers entitled to the object's restricted fields: its owner, an
admin, the users it is shared with (for a run: its starter, the workflow's owner and the users the workflow is
shared with). An event of a resource we cannot place (no projection row) goes to admins only.

Each hub caches what it looked up for a few seconds, so 200 subscribers of one event cost one lookup, not 200.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import select

from core.access import Caller, may_read, owns
from core.db import session_scope

KINDS = {"ag": "agent", "tk": "task", "sw": "swarm", "run": "run", "orch": "orchestration", "train": "training"}

# Metadata only (docs/access.md "Reads"): every signed-in reader gets these.
PUBLIC_TYPES = frozenset({
    "agent.created", "agent.status", "agent.task_assigned", "agent.released", "agent.updated",
    "task.created", "task.submitted", "task.status", "task.assigned", "task.progress", "task.completed",
    "task.cancelled", "task.updated", "task.decomposed",
    "swarm.created", "swarm.status", "swarm.progress", "swarm.topology_changed", "swarm.agent_joined",
    "swarm.agent_left", "swarm.scaled", "swarm.rebalanced", "swarm.task_assigned", "swarm.task_decomposed",
    "swarm.submitted", "swarm.updated",
    "run.started", "run.succeeded", "run.cancelled", "run.concurrency_acquired", "step.started", "step.succeeded",
    "step.skipped", "step.cancelled", "step.reused", "step.waiting_approval", "step.approval_decided",
    "step.child_started",
    "orchestration.started", "orchestration.status", "orchestration.phase_started", "training.started",
    "training.progress", "training.completed", "training.cancelled",
})


def base_id(resource_id: str) -> str:
    """`run-1/build/log` → `run-1`: log lines and other sub-resources belong to their run."""
    return resource_id.split("/", 1)[0]


def kind_of(resource_id: str) -> str | None:
    return KINDS.get(base_id(resource_id).split("-", 1)[0])


class Audience(BaseModel):
    """What decides who sees a resource's events, and what streams filter on (its swarm, its workflow)."""

    kind: str | None = None
    owner: str | None = None
    shared_with: list[str] = Field(default_factory=list)
    starter: str | None = None  # runs: who started it
    workflow_id: str | None = None  # runs
    swarm_id: str | None = None  # agents and tasks
    description: str | None = None  # tasks (dialect 2's agent.task.assigned)
    known: bool = False

    def entitled(self, caller: Caller) -> bool:
        if caller.is_admin:
            return True
        if not self.known:
            return False
        if self.kind == "run" and owns(caller, self.starter):
            return True
        return may_read(caller, self.owner, self.shared_with)

    def may_see(self, caller: Caller, event_type: str) -> bool:
        if caller.is_admin:
            return True
        if event_type in PUBLIC_TYPES and self.known:
            return True
        return self.entitled(caller)


def _spec_shared(state: dict[str, Any]) -> list[str]:
    spec = state.get("spec") if isinstance(state, dict) else None
    return list((spec or {}).get("shared_with") or [])


def lookup(resource_id: str) -> Audience:
    """The audience of a resource's events, from its projection row (blocking: call it in a thread)."""
    from core.agents.tables import AgentRow, SwarmRow, TaskRow
    from core.pipelines.tables import RunRow, WorkflowRow

    rid = base_id(resource_id)
    kind = kind_of(rid)
    with session_scope() as session:
        if kind == "agent":
            row = session.get(AgentRow, rid)
            if row is not None:
                return Audience(kind=kind, owner=row.owner, shared_with=_spec_shared(row.state),
                                swarm_id=row.swarm_id, known=True)
        elif kind == "task":
            row = session.get(TaskRow, rid)
            if row is not None:
                return Audience(kind=kind, owner=row.owner, shared_with=_spec_shared(row.state),
                                swarm_id=row.swarm_id, description=row.description, known=True)
        elif kind == "swarm":
            row = session.get(SwarmRow, rid)
            if row is not None:
                return Audience(kind=kind, owner=row.owner, shared_with=_spec_shared(row.state), swarm_id=rid,
                                known=True)
        elif kind == "run":
            row = session.get(RunRow, rid)
            if row is not None:
                found = session.exec(select(WorkflowRow.owner, WorkflowRow.shared_with)
                                     .where(WorkflowRow.id == row.workflow_id)).first()
                owner, shared = found if found is not None else (None, None)
                return Audience(kind=kind, owner=owner, shared_with=list(shared or []), starter=row.started_by,
                                workflow_id=row.workflow_id, known=True)
        elif kind in ("orchestration", "training"):
            from core.neural.tables import TrainingRow
            from core.orchestrations.tables import OrchestrationRow

            table = OrchestrationRow if kind == "orchestration" else TrainingRow
            found_row = session.get(table, rid)
            if found_row is not None:  # owner and admins (no sharing of these yet)
                return Audience(kind=kind, owner=found_row.owner, known=True)
    return Audience(kind=kind)


def swarm_size(swarm_id: str) -> int:
    """How many agents are in the swarm now (dialect 2's swarm.status.changed `agents`)."""
    from sqlalchemy import func

    from core.agents.tables import AgentRow

    with session_scope() as session:
        return int(session.exec(select(func.count()).select_from(AgentRow)
                                .where(AgentRow.swarm_id == swarm_id, AgentRow.status != "terminated")).one())


class AudienceCache:
    """`lookup` with a short memory per hub. Unknown resources are remembered for less time: their projection row
    may land a moment after their first event."""

    def __init__(self, ttl_s: float = 10.0, unknown_ttl_s: float = 0.5, max_entries: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.unknown_ttl_s = unknown_ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Audience]] = {}

    def cached(self, resource_id: str) -> Audience | None:
        hit = self._entries.get(base_id(resource_id))
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def remember(self, resource_id: str, audience: Audience) -> Audience:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        ttl = self.ttl_s if audience.known else self.unknown_ttl_s
        self._entries[base_id(resource_id)] = (time.monotonic() + ttl, audience)
        return audience
