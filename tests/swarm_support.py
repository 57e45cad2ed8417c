"""Helpers for tests that drive swarms, agents and tasks through the services (the same calls the API makes)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import Client

from core.agents import swarms, tasks
from core.agents.models import TERMINAL_TASK
from core.agents.state import SwarmState, TaskState
from core.events.store import list_events
from core.settings import get_settings
from tests.support import SERVICE

T = TypeVar("T")
SHELL = {"executor": "shell"}


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], what: str,
                     timeout: float = 30.0) -> T:
    """Poll `probe` until `accept` holds; fail naming `what` and the last value after `timeout` (a hang guard)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {value!r}"[:4000])
        await asyncio.sleep(0.05)


async def new_swarm(client: Client, *, topology: str, strategy: str = "balanced",
                    agents: list[dict[str, Any]], name: str = "test swarm", max_agents: int = 8,
                    **extra: Any) -> SwarmState:
    body = swarms.SwarmCreate(name=name, topology=topology, strategy=strategy, max_agents=max_agents,
                              agent_config=SHELL, initial_agents=agents, **extra)
    state = await swarms.create_swarm(client, get_settings(), body, caller=SERVICE, tier="enterprise")
    expected = sum(int(group.get("count", 1)) for group in agents)
    if topology == "hierarchical" and not any(g["type"] == "coordinator" for g in agents):
        expected += 1
    return await eventually(lambda: swarms.get_swarm(client, state.spec.id),
                            lambda s: s.status.value == "active" and len(s.agents) == expected,
                            f"swarm {state.spec.id} to start its agents")


async def submit(client: Client, swarm_id: str, command: str, **fields: Any) -> TaskState:
    requirements = {"command": command, **fields.pop("requirements", {})}
    body = tasks.TaskCreate(requirements=requirements, swarm_id=swarm_id, **fields)
    return await tasks.create_task(client, get_settings(), body, caller=SERVICE, tier="enterprise")


async def finished(client: Client, task_id: str, timeout: float = 30.0) -> TaskState:
    return await eventually(lambda: tasks.get_task(client, task_id, caller=SERVICE),
                            lambda t: t.status in TERMINAL_TASK,
                            f"task {task_id} to finish", timeout)


async def running(client: Client, task_id: str, timeout: float = 30.0) -> TaskState:
    return await eventually(lambda: tasks.get_task(client, task_id, caller=SERVICE),
                            lambda t: t.status.value == "running",
                            f"task {task_id} to run", timeout)


def assignments(swarm_id: str) -> list[dict[str, Any]]:
    """The swarm's `swarm.task_assigned` events, oldest first."""
    return [e.data for e in list_events(swarm_id) if e.type == "swarm.task_assigned"]


async def recorded_assignments(swarm_id: str, count: int) -> list[dict[str, Any]]:
    """The first `count` assignments, once the swarm has written them (events are written at most a second late)."""
    found = await eventually(lambda: asyncio.to_thread(assignments, swarm_id), lambda a: len(a) >= count,
                             f"{count} assignments of swarm {swarm_id} to be recorded")
    return found[:count]


def names(state: SwarmState) -> dict[str, str]:
    return {agent.id: agent.name for agent in state.agents}
