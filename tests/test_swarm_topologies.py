"""Topology and strategy change how tasks meet agents (issue 4): one test per topology and per strategy, each
with shell agents running real commands, each showing the assignment the design describes and how it differs
from another topology or strategy given the same work."""

from __future__ import annotations

import asyncio
from collections import Counter

from temporalio.client import Client

from core.agents import swarms
from tests.support import SERVICE
from tests.swarm_support import SHELL, finished, names, new_swarm, recorded_assignments, running, submit

pytestmark = [__import__("pytest").mark.usefixtures("worker")]


async def _all_finished(client: Client, ids: list[str]) -> list:
    return list(await asyncio.gather(*(finished(client, task_id) for task_id in ids)))


async def _run_batch(client: Client, swarm_id: str, count: int, command: str, **fields) -> list:
    created = [await submit(client, swarm_id, command, **fields) for _ in range(count)]
    done = await _all_finished(client, [t.spec.id for t in created])
    assert all(t.status.value == "completed" for t in done), [(t.spec.id, t.status, t.error) for t in done]
    return done


async def test_mesh_only_idle_agents_take_work_while_star_queues_on_busy_agents(temporal_client: Client) -> None:
    """Mesh: an agent holds at most one task — work waits in the swarm until an agent is idle and pulls it.
    Star: the centre assigns on arrival, so busy agents get a queue."""
    agents = [{"type": "coder", "count": 2}]
    mesh = await new_swarm(temporal_client, topology="mesh", agents=agents)
    await _run_batch(temporal_client, mesh.spec.id, 5, "sleep 0.3")
    mesh_loads = [a["agent_load"] for a in await recorded_assignments(mesh.spec.id, 5)]
    assert len(mesh_loads) == 5 and max(mesh_loads) == 1, mesh_loads

    star = await new_swarm(temporal_client, topology="star", agents=agents)
    await _run_batch(temporal_client, star.spec.id, 5, "sleep 0.3")
    star_loads = [a["agent_load"] for a in await recorded_assignments(star.spec.id, 5)]
    assert len(star_loads) == 5 and max(star_loads) >= 2, star_loads


async def test_mesh_agents_pull_only_work_they_are_capable_of(temporal_client: Client) -> None:
    swarm = await new_swarm(temporal_client, topology="mesh", agents=[
        {"type": "coder", "count": 1, "capabilities": ["python"]},
        {"type": "documenter", "count": 1, "capabilities": ["docs"]},
    ])
    by_name = {a.name: a.id for a in swarm.agents}
    docs = [await submit(temporal_client, swarm.spec.id, "true", requirements={"capabilities": ["docs"]})
            for _ in range(3)]
    done = await _all_finished(temporal_client, [t.spec.id for t in docs])
    assert {t.agent_id for t in done} == {by_name["documenter-2"]}, names(swarm)


async def test_ring_passes_tasks_round_the_agents_in_order_even_when_the_next_is_busy(
        temporal_client: Client) -> None:
    """Ring: task n goes to the agent after the one that took task n-1, busy or not. Balanced star: to the least
    loaded agent. Same three tasks, different agent for the third."""

    async def third_task_agent(topology: str) -> tuple[str, str, str]:
        swarm = await new_swarm(temporal_client, topology=topology, agents=[{"type": "coder", "count": 2}])
        first, second = swarm.agents[0].id, swarm.agents[1].id
        long_task = await submit(temporal_client, swarm.spec.id, "sleep 3")
        assert (await running(temporal_client, long_task.spec.id)).agent_id == first
        short = await finished(temporal_client, (await submit(temporal_client, swarm.spec.id, "true")).spec.id)
        assert short.agent_id == second
        third = await finished(temporal_client, (await submit(temporal_client, swarm.spec.id, "true")).spec.id)
        return first, second, third.agent_id or ""

    first, _, ring_third = await third_task_agent("ring")
    assert ring_third == first  # its turn came round, so it waited behind the long task
    _, second, star_third = await third_task_agent("star")
    assert star_third == second  # the idle agent


async def test_hierarchical_coordinator_decomposes_and_assigns_to_workers(temporal_client: Client, tmp_path) -> None:
    swarm = await new_swarm(temporal_client, topology="hierarchical", agents=[{"type": "coder", "count": 2}])
    coordinator = next(a for a in swarm.agents if a.role == "coordinator")
    workers = {a.id for a in swarm.agents if a.role != "coordinator"}
    parent = await submit(temporal_client, swarm.spec.id, "true", description="build three modules", requirements={
        "subtasks": [{"description": f"module {n}", "command": f"echo {n} > module{n}.txt"} for n in range(3)]})
    done = await finished(temporal_client, parent.spec.id)
    assert done.status.value == "completed", done
    assert done.agent_id == coordinator.id and len(done.children) == 3
    assert sorted(done.result.files_created) == ["module0.txt", "module1.txt", "module2.txt"]
    children = await _all_finished(temporal_client, done.children)
    assert all(c.status.value == "completed" and c.spec.parent_id == parent.spec.id for c in children)
    assert {c.agent_id for c in children} <= workers  # the coordinator delegates, it does not execute
    assert all(a["assigned_by"] == coordinator.id for a in await recorded_assignments(swarm.spec.id, 3))
    # A task without subtasks is still assigned by the coordinator, to a worker.
    plain = await finished(temporal_client, (await submit(temporal_client, swarm.spec.id, "true")).spec.id)
    assert plain.agent_id in workers and plain.assigned_by in (None, coordinator.id)


async def test_specialized_prefers_the_matching_agent_balanced_spreads_the_load(temporal_client: Client) -> None:
    agents = [{"type": "coder", "count": 1, "capabilities": ["python"]},
              {"type": "coder", "count": 1, "capabilities": ["docs"]}]

    async def spread(strategy: str) -> Counter:
        swarm = await new_swarm(temporal_client, topology="star", strategy=strategy, agents=agents)
        done = await _run_batch(temporal_client, swarm.spec.id, 4, "sleep 0.2", type="docs")
        by_id = names(swarm)
        return Counter(by_id[t.agent_id] for t in done)

    specialized = await spread("specialized")
    assert specialized == Counter({"coder-2": 4}), specialized  # every docs task to the docs agent, busy or not
    balanced = await spread("balanced")
    assert balanced == Counter({"coder-1": 2, "coder-2": 2}), balanced


async def test_adaptive_learns_to_avoid_an_agent_that_fails(temporal_client: Client) -> None:
    """One agent's tasks fail, for real (its test command fails and it requires passing tests); adaptive stops
    choosing it after the first failure, balanced keeps alternating. The failure costs as much time as a success
    (both run in the sandbox): adaptive scores success per second, and an instant failure would look cheap."""
    failing = {**SHELL, "test_command": "false", "require_tests_pass": True}
    agents = [{"type": "coder", "count": 1, "config": failing},
              {"type": "coder", "count": 1, "config": SHELL}]

    async def sequence(strategy: str) -> list[str]:
        swarm = await new_swarm(temporal_client, topology="star", strategy=strategy, agents=agents)
        chosen = []
        for _ in range(5):
            task = await finished(temporal_client, (await submit(temporal_client, swarm.spec.id, "true")).spec.id)
            chosen.append(f"{names(swarm)[task.agent_id]}:{task.status.value}")
        return chosen

    adaptive = await sequence("adaptive")
    assert adaptive[0] == "coder-1:failed" and adaptive[1:] == ["coder-2:completed"] * 4, adaptive
    balanced = await sequence("balanced")
    assert balanced == ["coder-1:failed", "coder-2:completed"] * 2 + ["coder-1:failed"], balanced


async def test_optimize_repicks_topology_from_measured_load_and_records_it(temporal_client: Client) -> None:
    from core.agents.contracts import ControlRequest
    from core.events.store import list_events
    from core.settings import get_settings

    swarm = await new_swarm(temporal_client, topology="ring", agents=[{"type": "coder", "count": 2}])
    outcome = await swarms.control_swarm(temporal_client, get_settings(), swarm.spec.id,
                                         ControlRequest(action="optimize"), caller=SERVICE, tier="enterprise")
    assert outcome.detail["changed"] and outcome.detail["topology"] == "star"
    assert outcome.detail["measured"]["agents"] == 2
    changes = [e.data for e in list_events(swarm.spec.id) if e.type == "swarm.topology_changed"]
    assert changes and changes[-1]["previous_topology"] == "ring" and changes[-1]["reason"] == "optimization"
