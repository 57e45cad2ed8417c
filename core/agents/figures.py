"""Figures derived from an agent's, task's or swarm's state: pure functions, so every front end presents the same
number. Each is measured or extrapolated from what was measured, never a constant; where there is no honest
source the figure is None. Units are the domain's (milliseconds, seconds of CPU, shares); each API dialect
converts them and names them as its spec does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.agents.models import TaskStatus
from core.agents.state import AgentState, HistoryEntry, SwarmState, TaskState
from core.rates import rate


def cpu_share(entry: HistoryEntry | None) -> float | None:
    """CPU seconds per wall second of one finished task: measured, unlike a live CPU gauge we do not have.
    None without a task, without measured CPU, or for a task that took no time."""
    if entry is None or entry.cpu_time_s is None or not entry.duration_ms:
        return None
    return round(entry.cpu_time_s / max(entry.duration_ms / 1000, 0.001), 4)


def last_measured(state: AgentState) -> HistoryEntry | None:
    """The agent's most recent finished task whose CPU time was measured."""
    return next((h for h in reversed(state.history) if h.cpu_time_s is not None), None)


def last_task_cpu_share(state: AgentState) -> float | None:
    """The CPU share of the agent's last task with measured CPU: None before it has finished one."""
    return cpu_share(last_measured(state))


def cpu_usage(cpu_time_s: float, active_ms: int) -> float | None:
    """CPU seconds per active second over a timeframe (agent metrics); None when the agent was never active."""
    active_s = active_ms / 1000
    return round(cpu_time_s / active_s, 4) if active_s > 0 else None


def task_progress(state: SwarmState) -> float:
    """The share of the swarm's tasks that have ended (completed, failed or cancelled); 0 with no tasks."""
    done = state.tasks_completed + state.tasks_failed + state.tasks_cancelled
    return round(done / state.tasks_total, 4) if state.tasks_total else 0.0


def swarm_averages(state: SwarmState) -> tuple[float | None, float | None]:
    """(average ms per finished task, success rate) from what the swarm's agents reported; (None, None) until a
    task has finished."""
    finished = sum(a.completed + a.failed for a in state.agents)
    total_ms = sum(a.total_ms for a in state.agents)
    completed = sum(a.completed for a in state.agents)
    if not finished:
        return None, None
    return round(total_ms / finished, 1), round(completed / finished, 4)


def estimated_completion(state: TaskState) -> datetime | None:
    """When the task should end, from what is known: its end once finished; while running, the pace of its
    progress so far (the same extrapolation as the `task.progress` event), else its start plus the estimate."""
    timeline = state.timeline
    if state.status in (TaskStatus.completed, TaskStatus.failed):
        return timeline.completed_at
    if state.status != TaskStatus.running or timeline.started_at is None:
        return None
    if state.progress > 0 and state.updated_at is not None and state.updated_at > timeline.started_at:
        return timeline.started_at + (state.updated_at - timeline.started_at) / state.progress
    if state.spec.estimated_duration_s is not None:
        return timeline.started_at + timedelta(seconds=state.spec.estimated_duration_s)
    return None


@dataclass(frozen=True)
class SwarmPerformance:
    """`throughput`: finished tasks per minute over `window_s`, None unless core/rates.py allows a rate (at least
    60 s and 10 tasks); `efficiency`, `coordination_overhead`: shares over the same tasks; `finished`: how many
    tasks the figures are measured over; `window_s`: from the first one queued to the last one finished."""

    throughput: float | None
    efficiency: float | None
    coordination_overhead: float | None
    window_s: float | None
    finished: int


TaskTiming = tuple[datetime | None, datetime | None, datetime | None, str]  # queued, started, ended, status


def swarm_performance(timings: list[TaskTiming], agent_count: int) -> SwarmPerformance:
    """From the swarm's tasks' recorded timelines: throughput over the window from the first queued to the last
    finished (completed or failed); efficiency = time agents spent running tasks / (agents × window); coordination
    overhead = time waiting to start / total latency. Shares need no minimum window; the rate does."""
    done = (TaskStatus.completed.value, TaskStatus.failed.value)
    finished = [(_utc(q), _utc(s), _utc(c)) for q, s, c, status in timings if status in done and q and s and c]
    if not finished:
        return SwarmPerformance(throughput=None, efficiency=None, coordination_overhead=None, window_s=None,
                                finished=0)
    first = min(q for q, _, _ in finished)
    last = max(c for _, _, c in finished)
    window = max((last - first).total_seconds(), 0.001)
    busy = sum(max((c - s).total_seconds(), 0) for _, s, c in finished)
    waiting = sum(max((s - q).total_seconds(), 0) for q, s, _ in finished)
    latency = sum(max((c - q).total_seconds(), 0) for q, _, c in finished)
    return SwarmPerformance(
        throughput=rate(len(finished), window),
        efficiency=round(min(busy / (max(agent_count, 1) * window), 1.0), 4),
        coordination_overhead=round(waiting / latency, 4) if latency else 0.0,
        window_s=round(window, 3),
        finished=len(finished),
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
