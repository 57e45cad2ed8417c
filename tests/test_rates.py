"""Honest rates (issue 11): a rate is shown only over at least 60 s and 10 events (core/rates.py), else null with
the window it would have been measured over — table-driven over the pure rule and the swarm's figures, plus the
API showing null after one quick task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.agents.figures import swarm_performance
from core.rates import MIN_RATE_EVENTS, MIN_RATE_WINDOW_S, rate
from tests.support import poll
from tests.test_swarms_api import shell_swarm

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.database("sqlite", reason="pure arithmetic: no database")
@pytest.mark.parametrize(("events", "window_s", "per_s", "expected"), [
    (1, 0.058, 60, None),  # the case: one 58 ms task is not 1,034 tasks a minute
    (0, 3600, 60, None),  # nothing happened
    (9, 3600, 60, None),  # an hour, but too few events to call it a rate
    (10, 59.999, 60, None),  # enough events, too short a window
    (10, None, 60, None),  # no window at all
    (10, 60, 60, 10.0),  # exactly the minimum: shown
    (10, 60, 1, 0.167),  # per second
    (120, 600, 60, 12.0),
    (1000, 120, 60, 500.0),  # a burst long enough is a rate like any other
])
def test_a_rate_needs_a_window_and_a_count(events: int, window_s: float | None, per_s: float,
                                            expected: float | None) -> None:
    assert rate(events, window_s, per_s=per_s) == expected


@pytest.mark.database("sqlite", reason="pure arithmetic: no database")
def test_the_documented_minimum() -> None:
    assert (MIN_RATE_WINDOW_S, MIN_RATE_EVENTS) == (60.0, 10)  # docs/agents.md "Rates" says so


def _tasks(count: int, every_s: float, *, run_s: float = 0.5, wait_s: float = 0.1,
           status: str = "completed") -> list:
    """`count` tasks queued `every_s` apart, each waiting `wait_s` then running `run_s`."""
    rows = []
    for i in range(count):
        queued = T0 + timedelta(seconds=i * every_s)
        started = queued + timedelta(seconds=wait_s)
        rows.append((queued, started, started + timedelta(seconds=run_s), status))
    return rows


@pytest.mark.database("sqlite", reason="pure figures: no database")
@pytest.mark.parametrize(("timings", "agents", "throughput", "window_s", "finished"), [
    ([], 1, None, None, 0),
    # one 58 ms task: a window, a count, and no rate
    ([(T0, T0, T0 + timedelta(milliseconds=58), "completed")], 1, None, 0.058, 1),
    # running and cancelled tasks are not finished work
    ([(T0, T0, None, "running"), (T0, T0, T0 + timedelta(seconds=90), "cancelled")], 1, None, None, 0),
    # 7 tasks within seconds: too short and too few
    (_tasks(7, 0.2), 3, None, 1.8, 7),
    # 10 tasks over 90.6 s: a rate (10 / 90.6 s × 60)
    (_tasks(10, 10.0), 2, 6.623, 90.6, 10),
    # failed tasks count as finished work too; naive timestamps are read as UTC
    ([(q.replace(tzinfo=None), s, c, "failed") for q, s, c, _ in _tasks(12, 6.0)], 4, 10.811, 66.6, 12),
])
def test_swarm_throughput_is_null_below_the_minimum(timings: list, agents: int, throughput: float | None,
                                                    window_s: float | None, finished: int) -> None:
    perf = swarm_performance(timings, agents)
    assert (perf.throughput, perf.window_s, perf.finished) == (throughput, window_s, finished)
    if finished:  # shares need no minimum window: they are shown whenever something finished
        assert perf.efficiency is not None and 0 < perf.efficiency <= 1
        assert perf.coordination_overhead is not None
    else:
        assert perf.efficiency is None and perf.coordination_overhead is None


async def test_one_quick_task_shows_no_throughput(api: httpx.AsyncClient) -> None:
    swarm_id = await shell_swarm(api, testers=1)
    task = await api.post("/api/tasks", json={"type": "quick", "description": "one quick task",
                                              "requirements": {"command": "true"}, "swarm_id": swarm_id})
    assert task.status_code == 201, task.text
    status = await poll(api, f"/api/swarms/{swarm_id}/status", lambda b: b["tasks"]["completed"] == 1)
    performance = status["performance"]
    assert performance["throughput"] is None  # not "1,034 tasks/min"
    assert performance["window_tasks"] == 1 and 0 < performance["window"] < MIN_RATE_WINDOW_S
    assert performance["efficiency"] is not None
