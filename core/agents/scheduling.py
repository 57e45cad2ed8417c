"""How a swarm's tasks meet its agents: pure decisions over a swarm's state, applied by SwarmWorkflow.

Topology decides *when and in which order* a task meets agents:
- hierarchical: a coordinator decomposes tasks that list `requirements.subtasks`; workers (never the coordinator)
  take the pieces, centrally assigned;
- star / centralized: assigned centrally as tasks arrive;
- mesh: only idle agents take work, each pulling the highest-priority task whose capabilities it has;
- ring: tasks go round the agents in order (busy or not), skipping agents that lack a needed capability.

Strategy decides *which* of the agents the topology allows:
- specialized: the best capability match (then the least loaded); a task needing capabilities nobody has waits;
- balanced: the least loaded (then the one that finished fewest);
- adaptive: the best success rate per second, learned from finished tasks (Laplace-smoothed, so an agent that has
  not finished anything starts at an even chance and the swarm's typical duration).

Everything here is deterministic (ties broken by join order, sets sorted): it runs inside a workflow. Nothing here
mutates the state it is given; the workflow applies what comes back.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from core.agents.models import Strategy, SwarmStatus, Topology
from core.agents.state import SwarmAgent, SwarmState, TaskTicket

UNKNOWN_TYPICAL_MS = 1000.0  # adaptive: the assumed duration while no agent of the candidates finished anything
FALLBACK_AGENT_TYPE = "specialist"  # autoscale: the type added when nothing better is known


# ---- what a task asks for -------------------------------------------------------------------------------------


def needs(ticket: TaskTicket) -> list[str]:
    """The capabilities a task requires (`requirements.capabilities`)."""
    needed = ticket.requirements.get("capabilities") or []
    return [str(c) for c in needed] if isinstance(needed, list) else []


def capable(agent: SwarmAgent, ticket: TaskTicket) -> bool:
    """The agent has every capability the task needs (its type counts as one)."""
    have = set(agent.capabilities) | {agent.type}
    return all(c in have for c in needs(ticket))


def overlap(agent: SwarmAgent, ticket: TaskTicket) -> int:
    """How many of what the task names (capabilities and its type) the agent has."""
    have = set(agent.capabilities) | {agent.type}
    wanted = set(needs(ticket)) | ({ticket.type} if ticket.type else set())
    return len(have & wanted)


# ---- who may work ---------------------------------------------------------------------------------------------


def coordinator(state: SwarmState) -> SwarmAgent | None:
    """The live coordinator of a hierarchical swarm (other topologies have none)."""
    if state.spec.topology != Topology.hierarchical:
        return None
    return next((a for a in state.live_agents if a.role == "coordinator"), None)


def workers(state: SwarmState) -> list[SwarmAgent]:
    """The agents that take tasks: every live agent, except a hierarchical swarm's coordinator."""
    live = list(state.live_agents)
    if state.spec.topology == Topology.hierarchical:
        return [a for a in live if a.role != "coordinator"]
    return live


def is_decomposable(state: SwarmState, ticket: TaskTicket) -> bool:
    """A top-level task with `requirements.subtasks`, in a hierarchical swarm whose coordinator is alive."""
    subtasks = ticket.requirements.get("subtasks")
    return (state.spec.topology == Topology.hierarchical and ticket.parent_id is None
            and isinstance(subtasks, list) and bool(subtasks) and coordinator(state) is not None)


# ---- topology × strategy ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The agent that gets the task now (None: it waits), and where a ring continues next time."""

    agent: SwarmAgent | None
    ring_pointer: int


def choose(state: SwarmState, ticket: TaskTicket) -> Choice:
    """Which agent the task goes to now, by the swarm's topology and strategy."""
    pointer = state.ring_pointer
    candidates = workers(state)
    if not candidates:
        return Choice(None, pointer)
    wanted_type = ticket.requirements.get("agent_type")
    if wanted_type:
        candidates = [a for a in candidates if a.type == wanted_type]
    topology = state.spec.topology
    if topology == Topology.ring:
        count = len(candidates)
        for step in range(count):
            index = (pointer + step) % count
            if capable(candidates[index], ticket) or not needs(ticket):
                return Choice(candidates[index], (index + 1) % count)
        return Choice(None, pointer)
    if topology == Topology.mesh:
        idle = [a for a in candidates if a.load == 0 and capable(a, ticket)]
        return Choice(pick(state, idle, ticket) if idle else None, pointer)
    allowed = [a for a in candidates if capable(a, ticket)] or ([] if needs(ticket) else candidates)
    if not allowed and state.spec.strategy != Strategy.specialized:
        allowed = candidates
    return Choice(pick(state, allowed, ticket) if allowed else None, pointer)


def pick(state: SwarmState, candidates: list[SwarmAgent], ticket: TaskTicket) -> SwarmAgent:
    """The swarm's strategy chooses among `candidates` (not empty)."""
    strategy = state.spec.strategy
    order = {a.id: i for i, a in enumerate(state.agents)}
    if strategy == Strategy.specialized:
        return max(candidates, key=lambda a: (overlap(a, ticket), -a.load, -order[a.id]))
    if strategy == Strategy.adaptive:
        known = [a.total_ms / (a.completed + a.failed) for a in candidates if a.completed + a.failed]
        typical_ms = sum(known) / len(known) if known else UNKNOWN_TYPICAL_MS

        def score(agent: SwarmAgent) -> tuple[float, int, int]:
            finished = agent.completed + agent.failed
            success = (agent.completed + 1) / (finished + 2)  # Laplace: an unknown agent starts at 0.5
            seconds = (agent.total_ms / finished if finished else typical_ms) / 1000
            return (success / (seconds + 0.1), -agent.load, -order[agent.id])

        return max(candidates, key=score)
    return min(candidates, key=lambda a: (a.load, a.completed + a.failed, order[a.id]))


# ---- control actions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopologyChoice:
    """What `optimize` picked and the figures it picked it from."""

    topology: Topology
    previous: Topology
    measured: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.topology != self.previous


def optimal_topology(state: SwarmState) -> TopologyChoice:
    """Re-pick the topology from what was measured: few agents → star (central assignment is cheapest); an uneven
    load → mesh (pulling evens it out); decomposed work → hierarchical; otherwise keep the current one."""
    agents = [a for a in state.live_agents if a.role != "coordinator"]
    finished = [a.completed + a.failed for a in agents]
    mean = sum(finished) / len(finished) if finished else 0.0
    imbalance = (max(finished) - min(finished)) / mean if finished and mean else 0.0
    measured = {"agents": len(agents), "load_imbalance": round(imbalance, 3),
                "tasks_completed": state.tasks_completed, "tasks_failed": state.tasks_failed,
                "queued": len(state.queue), "decomposed": len(state.parents)}
    current = state.spec.topology
    if len(agents) <= 2:
        chosen = Topology.star if current not in (Topology.star, Topology.centralized) else current
    elif imbalance > 0.5:
        chosen = Topology.mesh
    elif state.parents:
        chosen = Topology.hierarchical
    else:
        chosen = current
    return TopologyChoice(topology=chosen, previous=current, measured=measured)


def overloaded(state: SwarmState) -> list[SwarmAgent]:
    """Agents holding more than the task they run: rebalance asks them to hand the queued ones back."""
    return [a for a in state.live_agents if a.load > 1]


def room_to_add(state: SwarmState, requested: int, pending_spawns: int) -> int:
    """How many of `requested` agents fit under maxAgents, counting those already being spawned."""
    room = state.spec.max_agents - len(state.live_agents) - pending_spawns
    return max(0, min(requested, room))


def to_remove(state: SwarmState, agent_type: str, count: int) -> list[SwarmAgent]:
    """Which `count` agents of a type a scale-down removes: the least loaded, the newest first; never the
    coordinator."""
    removable = sorted((a for a in state.live_agents if a.type == agent_type and a.role != "coordinator"),
                       key=lambda a: (a.load, -state.agents.index(a)))
    return removable[:count]


def autoscale(state: SwarmState, pending_spawns: int, known_types: Collection[str]) -> str | None:
    """The agent type to add when an auto-scaling swarm has queued work, no idle worker, none being spawned and room
    left: the type the first queued task asks for, else the most common worker type. None: add nothing."""
    if not state.spec.auto_scale or state.status != SwarmStatus.active or not state.queue:
        return None
    staff = workers(state)
    if any(a.load == 0 for a in staff) or pending_spawns or len(state.live_agents) >= state.spec.max_agents:
        return None
    ticket = state.queue[0]
    wanted = ticket.requirements.get("agent_type") or ticket.type
    if wanted not in known_types:
        types = [a.type for a in staff] or [FALLBACK_AGENT_TYPE]
        wanted = max(sorted(set(types)), key=types.count)  # sorted: set order differs between processes
    return str(wanted)
