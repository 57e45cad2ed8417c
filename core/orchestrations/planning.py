"""The pure decisions of an orchestration, shared by the service (at submit) and the workflow (while it runs): which
required capabilities nothing can offer, which agent takes each slot, what each slot's task is, how long the whole
is expected to take, what a phase hands the next, and whether a phase failed. No I/O, no clock: replay-safe."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from core.agents.models import TaskStatus
from core.orchestrations.models import (
    OrchestrationStrategy,
    PhaseSpec,
    PhaseStatus,
    SlotPlan,
    SlotState,
)

CONTEXT_FILE = ".stellarflow/orchestration.json"  # the handover, in every later task's workspace
OUTPUT_KEPT = 4000  # characters of a task's output handed on (the tail; the whole is in the task's result)


class Candidate(BaseModel):
    """A live agent of the swarm that could take a slot."""

    id: str
    type: str
    capabilities: list[str] = Field(default_factory=list)


def unknown_capabilities(required: Iterable[str], offered_by_type: Mapping[str, Iterable[str]]) -> list[str]:
    """The required capabilities that no agent type offers (a 400 at submit)."""
    offered = {c for caps in offered_by_type.values() for c in caps}
    return sorted({c for c in required if c not in offered})


def uncovered_capabilities(required: Iterable[str], phases: list[PhaseSpec],
                           offered_by_type: Mapping[str, Iterable[str]]) -> list[str]:
    """Required capabilities some agent type offers, but none of the types the phases ask for."""
    used = {t for phase in phases for t in phase.agents}
    offered = {c for t in used for c in offered_by_type.get(t, ())}
    return sorted({c for c in required if c not in offered})


def slot_needs(agent_type: str, required: Iterable[str], offered_by_type: Mapping[str, Iterable[str]]) -> set[str]:
    """What a slot's agent must have: the required capabilities its type is meant to bring."""
    return set(required) & set(offered_by_type.get(agent_type, ()))


def assign(phases: list[PhaseSpec], candidates: list[Candidate], required: list[str],
           offered_by_type: Mapping[str, Iterable[str]], executor_of: Mapping[str, str],
           new_agent_id: Callable[[], str], new_task_id: Callable[[], str], task: str) -> list[list[SlotPlan]]:
    """Per phase, per slot: a swarm agent of the slot's type having the capabilities the slot needs, a different one
    for each slot of the phase while there are enough; else an agent spawned for the orchestration (spawned agents
    are reused by later phases, one per concurrent slot of a type)."""
    plan: list[list[SlotPlan]] = []
    spawned: dict[str, list[str]] = {}
    for phase in phases:
        taken: set[str] = set()
        used_spawned: dict[str, int] = {}
        slots: list[SlotPlan] = []
        for index, agent_type in enumerate(phase.agents):
            needs = slot_needs(agent_type, required, offered_by_type)
            match = next((c for c in candidates if c.type == agent_type and c.id not in taken
                          and needs <= set(c.capabilities)), None)
            if match is not None:
                taken.add(match.id)
                agent_id, spawn, capabilities = match.id, False, list(match.capabilities)
            else:
                pool = spawned.setdefault(agent_type, [])
                n = used_spawned.get(agent_type, 0)
                if n >= len(pool):
                    pool.append(new_agent_id())
                used_spawned[agent_type] = n + 1
                agent_id, spawn = pool[n], True
                capabilities = list(offered_by_type.get(agent_type, ()))
            work = phase.tasks[index] if phase.tasks else None
            requirements = {**phase.requirements, **(work.requirements if work else {})}
            description = (work.description if work and work.description else
                           f"{task}\n\nPhase {phase.name!r}: your part as the {agent_type} "
                           f"(slot {index + 1} of {len(phase.agents)}).")
            slots.append(SlotPlan(agent_type=agent_type, agent_id=agent_id, spawn=spawn, capabilities=capabilities,
                                  executor=executor_of.get(agent_type, "shell"), task_id=new_task_id(),
                                  retry_task_id=new_task_id(), description=description,
                                  type=work.type if work else None, requirements=requirements))
        plan.append(slots)
    return plan


def phase_estimate(slots: list[SlotPlan], strategy: OrchestrationStrategy,
                   declared_s: float | None) -> tuple[float | None, str]:
    """A phase's expected duration and where it comes from: `history` when every slot has measured similar tasks
    (parallel and adaptive: the longest; sequential: the sum), else `declared` (the phase's duration), else
    `none`."""
    measured = [s.estimated_s for s in slots]
    if slots and all(m is not None for m in measured):
        values = [float(m) for m in measured if m is not None]
        return (sum(values) if strategy == OrchestrationStrategy.sequential else max(values)), "history"
    if declared_s is not None:
        return declared_s, "declared"
    return None, "none"


def total_estimate(phases: list[tuple[float | None, str]], max_duration_s: float | None) -> tuple[float | None, str]:
    """The whole's expected duration (capped by `maxDuration`) and its source: `history`, `declared`, `mixed` (some
    phases each), or `none` when a phase has neither (then no estimate is given rather than a made-up one)."""
    sources = {source for _, source in phases}
    if not phases or "none" in sources:
        return (max_duration_s, "declared") if max_duration_s is not None else (None, "none")
    total = sum(seconds for seconds, _ in phases if seconds is not None)
    if max_duration_s is not None:
        total = min(total, max_duration_s)
    return total, sources.pop() if len(sources) == 1 else "mixed"


def slot_result(slot: SlotState, phase: str, artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    """What a finished slot hands on: its status, output tail, files and their stored artifacts."""
    return {"phase": phase, "agentType": slot.agent_type, "agentId": slot.agent_id, "taskId": slot.task_id,
            "status": slot.status.value, "output": slot.output[-OUTPUT_KEPT:], "error": slot.error,
            "filesCreated": slot.files_created, "filesChanged": slot.files_changed,
            "artifacts": artifacts}


def context_document(orchestration_id: str, task: str, phase: str, results: list[dict[str, Any]],
                     skipped: list[str]) -> str:
    return json.dumps({"orchestrationId": orchestration_id, "task": task, "phase": phase, "previous": results,
                       "filesNotCopied": skipped}, indent=2, sort_keys=True)


def phase_outcome(slots: list[SlotState], cancelled: bool) -> tuple[PhaseStatus, str | None]:
    """The failure policy: a phase completes only if every slot's task completed. A failed (or timed-out) slot fails
    the phase — under `adaptive` only after its second attempt — and a failed phase fails the orchestration; the
    phases after it are skipped. A cancel makes the phase cancelled."""
    if cancelled:
        return PhaseStatus.cancelled, "cancelled"
    failed = [s for s in slots if s.status != TaskStatus.completed]
    if not failed:
        return PhaseStatus.completed, None
    first = failed[0]
    return PhaseStatus.failed, (f"{failure_summary(slots)}; "
                                f"{first.task_id} ({first.agent_type}): {first.error or first.status.value}")


def failure_summary(slots: list[SlotState]) -> str:
    """A failed phase's error without any task's own error text (what readers not entitled to outputs see)."""
    failed = [s for s in slots if s.status != TaskStatus.completed]
    return f"{len(failed)} of {len(slots)} tasks did not complete"
