"""Swarm scheduling decisions (core/agents/scheduling.py), as pure functions over a swarm's state: which agent a
task goes to under each topology × strategy, and what optimize, rebalance, scale and autoscale decide. The end-to-end
behaviour of the same rules, with real agents running commands, is in test_swarm_topologies.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.agents import scheduling
from core.agents.models import AgentStatus, Strategy, SwarmSpec, SwarmStatus, Topology
from core.agents.state import ParentProgress, SwarmAgent, SwarmState, TaskTicket

pytestmark = pytest.mark.database("sqlite", reason="pure scheduling decisions: no database")

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def agent(agent_id: str, agent_type: str, capabilities: list[str], *, load: int = 0, completed: int = 0,
          failed: int = 0, total_ms: int = 0, role: str = "worker") -> SwarmAgent:
    return SwarmAgent(id=agent_id, type=agent_type, name=agent_id, role=role, capabilities=capabilities,
                      status=AgentStatus.idle, in_flight=[f"{agent_id}-t{i}" for i in range(load)],
                      completed=completed, failed=failed, total_ms=total_ms)


def team() -> list[SwarmAgent]:
    """Four agents, in join order:
    a0 — the coordinator (planning only), idle, never ran anything;
    a1 — a python coder, busy, fast and reliable (4 done, 0.5 s each);
    a2 — a python tester (the best capability match for a testing task), busy, slow (4 s);
    a4 — a python coder, idle, failed both of its tasks (1 s each)."""
    return [
        agent("a0", "coordinator", ["planning"], role="coordinator"),
        agent("a1", "coder", ["python"], load=1, completed=4, total_ms=2000),
        agent("a2", "tester", ["python", "testing"], load=1, completed=1, total_ms=4000),
        agent("a4", "coder", ["python"], failed=2, total_ms=2000),
    ]


def swarm(topology: Topology, strategy: Strategy, agents: list[SwarmAgent] | None = None, **state: Any) -> SwarmState:
    spec = SwarmSpec(id="sw-1", name="s", topology=topology, strategy=strategy, created_at=NOW,
                     **state.pop("spec", {}))
    return SwarmState(spec=spec, status=state.pop("status", SwarmStatus.active),
                      agents=team() if agents is None else agents, **state)


def ticket(task_id: str = "t", *, type: str | None = None, **requirements: Any) -> TaskTicket:
    return TaskTicket(task_id=task_id, type=type, requirements=requirements, submitted_at=NOW)


TESTING = ticket(type="testing", capabilities=["python"])  # needs python; a2 matches it best
ANY = ticket()  # needs nothing
RUST = ticket(capabilities=["rust"])  # needs what nobody has

S, B, A = Strategy.specialized, Strategy.balanced, Strategy.adaptive
CHOICES = [
    # topology, strategy, ticket, chosen agent (None: the task waits)
    # star / centralized: central assignment among capable workers; the strategy decides.
    (Topology.star, S, TESTING, "a2"),  # best capability match (python + its type)
    (Topology.star, B, TESTING, "a4"),  # least loaded
    (Topology.star, A, TESTING, "a1"),  # best success rate per second
    (Topology.centralized, S, TESTING, "a2"),
    (Topology.centralized, B, TESTING, "a4"),
    (Topology.centralized, A, TESTING, "a1"),
    (Topology.star, S, ANY, "a0"),  # no match to rank by: least loaded, first joined
    (Topology.star, B, ANY, "a0"),
    (Topology.star, A, ANY, "a1"),
    (Topology.star, S, RUST, None),  # specialized waits for a capable agent
    (Topology.star, B, RUST, "a0"),  # the others fall back to any worker
    (Topology.star, A, RUST, "a1"),
    # hierarchical: as central, but the coordinator never takes work itself.
    (Topology.hierarchical, S, TESTING, "a2"),
    (Topology.hierarchical, B, TESTING, "a4"),
    (Topology.hierarchical, A, TESTING, "a1"),
    (Topology.hierarchical, S, ANY, "a4"),
    (Topology.hierarchical, B, ANY, "a4"),
    (Topology.hierarchical, A, ANY, "a1"),
    (Topology.hierarchical, S, RUST, None),
    (Topology.hierarchical, B, RUST, "a4"),
    (Topology.hierarchical, A, RUST, "a1"),
    # mesh: only idle, capable agents pull work — a1 and a2 are busy.
    (Topology.mesh, S, TESTING, "a4"),
    (Topology.mesh, B, TESTING, "a4"),
    (Topology.mesh, A, TESTING, "a4"),
    (Topology.mesh, S, ANY, "a0"),
    (Topology.mesh, B, ANY, "a0"),
    (Topology.mesh, A, ANY, "a0"),  # an unknown agent (even chance) beats one that failed everything
    (Topology.mesh, B, RUST, None),
    # ring: the next capable agent after the pointer, busy or not, whatever the strategy.
    (Topology.ring, S, TESTING, "a2"),
    (Topology.ring, B, TESTING, "a2"),
    (Topology.ring, A, TESTING, "a2"),
    (Topology.ring, B, ANY, "a2"),
    (Topology.ring, B, RUST, None),
]


@pytest.mark.parametrize(("topology", "strategy", "task", "expected"), CHOICES,
                         ids=[f"{t.value}-{s.value}-{k.requirements or 'any'}" for t, s, k, _ in CHOICES])
def test_topology_and_strategy_choose_the_agent(topology: Topology, strategy: Strategy, task: TaskTicket,
                                                expected: str | None) -> None:
    state = swarm(topology, strategy, ring_pointer=2)
    before = state.model_dump()
    choice = scheduling.choose(state, task)
    assert (choice.agent.id if choice.agent else None) == expected
    assert state.model_dump() == before  # a decision, not an action: the workflow applies it


def test_ring_moves_on_past_the_agent_it_chose_and_wraps() -> None:
    state = swarm(Topology.ring, Strategy.balanced, ring_pointer=2)
    first = scheduling.choose(state, ANY)
    assert (first.agent.id, first.ring_pointer) == ("a2", 3)
    state.ring_pointer = first.ring_pointer
    second = scheduling.choose(state, ANY)
    assert (second.agent.id, second.ring_pointer) == ("a4", 0)
    state.ring_pointer = second.ring_pointer
    third = scheduling.choose(state, TESTING)  # a0 cannot do it: skipped
    assert (third.agent.id, third.ring_pointer) == ("a1", 2)


def test_a_task_naming_an_agent_type_goes_only_to_that_type() -> None:
    state = swarm(Topology.star, Strategy.balanced)
    assert scheduling.choose(state, ticket(agent_type="tester")).agent.id == "a2"
    assert scheduling.choose(state, ticket(agent_type="reviewer")).agent is None


def test_terminated_agents_take_nothing() -> None:
    agents = team()
    for member in agents:
        if member.id != "a2":
            member.status = AgentStatus.terminated
    assert scheduling.choose(swarm(Topology.star, Strategy.balanced, agents), ANY).agent.id == "a2"
    assert scheduling.choose(swarm(Topology.star, Strategy.balanced, []), ANY).agent is None


def test_only_top_level_tasks_with_subtasks_in_a_led_hierarchy_are_decomposed() -> None:
    split = ticket(subtasks=["a", "b"])
    assert scheduling.is_decomposable(swarm(Topology.hierarchical, Strategy.balanced), split)
    assert not scheduling.is_decomposable(swarm(Topology.star, Strategy.balanced), split)
    assert not scheduling.is_decomposable(swarm(Topology.hierarchical, Strategy.balanced),
                                          split.model_copy(update={"parent_id": "tk-parent"}))
    assert not scheduling.is_decomposable(swarm(Topology.hierarchical, Strategy.balanced, team()[1:]), split)
    assert not scheduling.is_decomposable(swarm(Topology.hierarchical, Strategy.balanced), ticket(subtasks=[]))


def test_optimize_picks_the_topology_from_what_was_measured() -> None:
    few = scheduling.optimal_topology(swarm(Topology.mesh, Strategy.balanced, team()[:3]))
    assert (few.topology, few.changed, few.measured["agents"]) == (Topology.star, True, 2)
    uneven = scheduling.optimal_topology(swarm(Topology.star, Strategy.balanced))  # 4, 1, 2 tasks finished
    assert (uneven.topology, uneven.measured["load_imbalance"]) == (Topology.mesh, round(3 / (7 / 3), 3))
    even = [agent(f"e{i}", "coder", [], completed=3) for i in range(3)]
    decomposed = swarm(Topology.star, Strategy.balanced, even, parents={"tk-p": ParentProgress(children=["x"])})
    assert scheduling.optimal_topology(decomposed).topology == Topology.hierarchical
    kept = scheduling.optimal_topology(swarm(Topology.ring, Strategy.balanced, even))
    assert (kept.topology, kept.changed) == (Topology.ring, False)


def test_rebalance_asks_agents_holding_queued_work() -> None:
    agents = team()
    agents[1].in_flight.append("a1-extra")
    assert [a.id for a in scheduling.overloaded(swarm(Topology.star, Strategy.balanced, agents))] == ["a1"]


def test_scaling_respects_max_agents_and_removes_the_least_loaded_newest_first() -> None:
    state = swarm(Topology.star, Strategy.balanced, spec={"max_agents": 6})
    assert scheduling.room_to_add(state, 5, pending_spawns=0) == 2
    assert scheduling.room_to_add(state, 5, pending_spawns=2) == 0
    assert [a.id for a in scheduling.to_remove(state, "coder", 1)] == ["a4"]  # idle beats busy
    assert [a.id for a in scheduling.to_remove(state, "coder", 5)] == ["a4", "a1"]
    assert scheduling.to_remove(state, "coordinator", 1) == []  # never the coordinator


def test_autoscale_adds_the_type_the_queue_waits_for_only_when_nobody_is_free() -> None:
    busy = [agent("b1", "coder", [], load=1), agent("b2", "coder", [], load=1), agent("b3", "tester", [], load=1)]
    queue = [ticket(type="tester")]
    state = swarm(Topology.star, Strategy.balanced, busy, spec={"auto_scale": True}, queue=queue)
    assert scheduling.autoscale(state, 0, known_types={"coder", "tester"}) == "tester"
    assert scheduling.autoscale(state, 0, known_types={"coder"}) == "coder"  # unknown type: the most common one
    assert scheduling.autoscale(state, 1, known_types={"tester"}) is None  # one is on its way already
    state.agents.append(agent("free", "coder", []))
    assert scheduling.autoscale(state, 0, known_types={"tester"}) is None
    off = swarm(Topology.star, Strategy.balanced, busy, queue=queue)
    assert scheduling.autoscale(off, 0, known_types={"tester"}) is None  # autoScale off
