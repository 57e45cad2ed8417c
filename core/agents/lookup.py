"""Reads of one agent, task or swarm that the agent, task and swarm services all need: from the projection
(`*_row`), or live from the workflow with the projection as fallback (`get_*`). Here, rather than in each
service, so the services depend on this module and not on each other."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select
from temporalio.client import Client

from core.agents.entities import live_state
from core.agents.models import AgentStatus
from core.agents.state import AgentState, SwarmState, TaskState
from core.agents.tables import AgentRow, SwarmRow, TaskRow
from core.db import session_scope
from core.errors import NotFound


def agent_row(agent_id: str) -> AgentState | None:
    with session_scope() as session:
        row = session.get(AgentRow, agent_id)
        return AgentState.model_validate(row.state) if row is not None else None


def task_row(task_id: str) -> TaskState | None:
    with session_scope() as session:
        row = session.get(TaskRow, task_id)
        return TaskState.model_validate(row.state) if row is not None else None


def swarm_row(swarm_id: str) -> SwarmState | None:
    with session_scope() as session:
        row = session.get(SwarmRow, swarm_id)
        return SwarmState.model_validate(row.state) if row is not None else None


def require_swarm(swarm_id: str) -> SwarmState:
    """The swarm's projection; an unknown swarm is a 404 (no Temporal round trip)."""
    state = swarm_row(swarm_id)
    if state is None:
        raise NotFound("swarm", swarm_id)
    return state


async def get_agent(client: Client, agent_id: str) -> AgentState:
    return await live_state(client, agent_id, AgentState, lambda: agent_row(agent_id), "agent")


async def get_task(client: Client, task_id: str) -> TaskState:
    return await live_state(client, task_id, TaskState, lambda: task_row(task_id), "task")


async def get_swarm(client: Client, swarm_id: str) -> SwarmState:
    return await live_state(client, swarm_id, SwarmState, lambda: swarm_row(swarm_id), "swarm")


def live_agents_of(owner: str | None) -> int:
    """How many agents `owner` holds that are not terminated (the `agents` quota counts these)."""
    with session_scope() as session:
        query = select(func.count()).select_from(AgentRow).where(AgentRow.status != AgentStatus.terminated.value)
        if owner is not None:
            query = query.where(AgentRow.owner == owner)
        return int(session.exec(query).one())
