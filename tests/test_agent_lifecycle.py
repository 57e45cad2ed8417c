"""Agents and tasks as durable entities (issue 4): an agent's lifecycle initializing → idle ⇄ active →
terminated, tasks pending → queued → running → completed | failed | cancelled, progress from executor heartbeats,
cancel and terminate rolling the workspace back for real, deadlines, metrics measured from real runs, estimates
from history, and swarm control (pause/resume, scale, broadcast, rebalance, delete) — driven through the services
the API calls, with shell agents running real commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client

from core.agents import agents, lookup, swarms, tasks
from core.agents.contracts import ControlRequest
from core.agents.models import AgentStatus, TaskStatus
from core.agents.state import Directive, SwarmState
from core.errors import Conflict
from core.events.store import list_events
from core.settings import Settings, get_settings
from tests.support import SERVICE, caller_of
from tests.swarm_support import SHELL, eventually, finished, new_swarm, running, submit

pytestmark = pytest.mark.usefixtures("worker")


async def _agent(client: Client, settings: Settings | None = None, **fields) -> str:
    body = agents.AgentCreate(type=fields.pop("type", "coder"), config=fields.pop("config", SHELL), **fields)
    state = await agents.create_agent(client, settings or get_settings(), body, caller=SERVICE, tier="enterprise")
    assert state.status == AgentStatus.initializing
    await eventually(lambda: agents.get_agent(client, state.spec.id, caller=SERVICE),
                     lambda a: a.status == AgentStatus.idle,
                     "the agent to be idle")
    return state.spec.id


async def _task(client: Client, command: str, **fields) -> str:
    requirements = {"command": command, **fields.pop("requirements", {})}
    body = tasks.TaskCreate(requirements=requirements, **fields)
    state = await tasks.create_task(client, get_settings(), body, caller=SERVICE, tier="enterprise")
    assert state.status == TaskStatus.pending
    return state.spec.id


async def test_task_assigned_to_an_agent_runs_and_is_measured(temporal_client: Client) -> None:
    agent_id = await _agent(temporal_client)
    task_id = await _task(temporal_client, "echo hello > out.txt; echo done", type="lifecycle-echo")
    ack = await tasks.assign_task(temporal_client, task_id, agent_id, caller=SERVICE)
    assert ack.queue_position == 0
    done = await finished(temporal_client, task_id)
    assert done.status == TaskStatus.completed and done.agent_id == agent_id
    assert done.result.exit_code == 0 and "done" in done.result.output
    assert done.result.files_created == ["out.txt"] and done.progress == 1.0
    timeline = done.timeline
    assert timeline.created_at <= timeline.queued_at <= timeline.started_at <= timeline.completed_at
    agent = await eventually(lambda: agents.get_agent(temporal_client, agent_id, caller=SERVICE),
                             lambda a: a.metrics.tasks_completed == 1 and a.status == AgentStatus.idle, "metrics")
    assert agent.history[-1].task_id == task_id and agent.history[-1].result == "success"
    assert agent.metrics.success_rate == 1.0 and agent.metrics.total_duration_ms > 0
    # The next similar task is estimated from this one; a never-seen kind of task gets no estimate at all.
    await eventually(lambda: asyncio.to_thread(lookup.task_row, task_id),
                     lambda t: t is not None and t.status == TaskStatus.completed, "the projection")
    similar = await tasks.create_task(temporal_client, get_settings(), tasks.TaskCreate(type="lifecycle-echo"),
                                      caller=SERVICE, tier="enterprise")
    assert similar.spec.estimated_duration_s == pytest.approx(done.duration_ms / 1000, rel=0.01, abs=0.002)
    novel = await tasks.create_task(temporal_client, get_settings(), tasks.TaskCreate(type="never-seen"),
                                    caller=SERVICE, tier="enterprise")
    assert novel.spec.estimated_duration_s is None
    types = [e.type for e in list_events(task_id)]
    assert {"task.created", "task.assigned", "task.completed"} <= set(types), types
    wanted = {"agent.created", "agent.status", "agent.task_assigned", "agent.metrics"}
    await eventually(lambda: asyncio.to_thread(lambda: {e.type for e in list_events(agent_id)}),
                     lambda seen: wanted <= seen, "the agent's events")
    await agents.terminate_agent(temporal_client, agent_id, caller=SERVICE)


async def test_progress_comes_from_the_executor_heartbeats(temporal_client: Client) -> None:
    agent_id = await _agent(temporal_client)
    task_id = await _task(temporal_client, "echo progress: 0.25; sleep 1.2; echo progress: 0.5; sleep 1.2")
    await tasks.assign_task(temporal_client, task_id, agent_id, caller=SERVICE)
    halfway = await eventually(lambda: tasks.get_task(temporal_client, task_id, caller=SERVICE),
                               lambda t: t.progress >= 0.5,
                               "progress 0.5")
    assert halfway.status == TaskStatus.running
    await finished(temporal_client, task_id)
    reported = [e.data["progress"] for e in list_events(task_id) if e.type == "task.progress"]
    assert reported == [0.25, 0.5], reported
    await agents.terminate_agent(temporal_client, agent_id, caller=SERVICE)


async def test_cancel_rolls_the_workspace_back_and_says_so(temporal_client: Client) -> None:
    agent_id = await _agent(temporal_client)
    task_id = await _task(temporal_client, "echo changed > notes.txt; rm keep.txt; touch new.txt; sleep 30",
                          requirements={"files": {"notes.txt": "original\n", "keep.txt": "keep\n"}})
    await tasks.assign_task(temporal_client, task_id, agent_id, caller=SERVICE)
    state = await running(temporal_client, task_id)
    agent = await agents.get_agent(temporal_client, agent_id, caller=SERVICE)
    workspace = Path(agent.workspace) / task_id
    await eventually(lambda: asyncio.sleep(0, workspace.joinpath("new.txt").exists()), bool, "the command to start")
    outcome = await tasks.cancel_task(temporal_client, task_id, caller=SERVICE)
    assert outcome.status == TaskStatus.cancelled and outcome.rollback_performed is True
    assert sorted(p.name for p in workspace.iterdir()) == ["keep.txt", "notes.txt"]
    assert (workspace / "notes.txt").read_text() == "original\n"
    assert state.agent_id == agent_id
    agent = await eventually(lambda: agents.get_agent(temporal_client, agent_id, caller=SERVICE),
                             lambda a: a.status == AgentStatus.idle and a.current_task is None, "the agent idle")
    assert agent.metrics.tasks_cancelled == 1 and agent.history[-1].result == "cancelled"
    # Cancelling again answers the same; a queued-but-unassigned task cancels without any rollback.
    assert (await tasks.cancel_task(temporal_client, task_id, caller=SERVICE)).rollback_performed is True
    pending = await _task(temporal_client, "true")
    outcome = await tasks.cancel_task(temporal_client, pending, caller=SERVICE)
    assert outcome.status == TaskStatus.cancelled and outcome.rollback_performed is False
    await agents.terminate_agent(temporal_client, agent_id, caller=SERVICE)


async def test_terminating_an_agent_cancels_its_task_and_refuses_new_work(temporal_client: Client) -> None:
    agent_id = await _agent(temporal_client)
    task_id = await _task(temporal_client, "touch made.txt; sleep 30")
    await tasks.assign_task(temporal_client, task_id, agent_id, caller=SERVICE)
    await running(temporal_client, task_id)
    final = await agents.terminate_agent(temporal_client, agent_id, caller=SERVICE)
    assert final.status == AgentStatus.terminated and final.terminated_at is not None
    task = await finished(temporal_client, task_id)
    assert task.status == TaskStatus.cancelled and task.rollback_performed is True
    with pytest.raises(Conflict):
        await tasks.assign_task(temporal_client, await _task(temporal_client, "true"), agent_id, caller=SERVICE)
    health = await agents.agent_health(temporal_client, get_settings(), agent_id)
    assert health.status == "unhealthy" and health.checks["connectivity"] == "down"


async def test_a_passed_deadline_fails_the_task(temporal_client: Client) -> None:
    from datetime import UTC, datetime, timedelta

    agent_id = await _agent(temporal_client)
    deadline = datetime.now(UTC) + timedelta(seconds=1.5)
    task_id = await _task(temporal_client, "sleep 30", constraints={"deadline": deadline})
    await tasks.assign_task(temporal_client, task_id, agent_id, caller=SERVICE)
    task = await finished(temporal_client, task_id)
    assert task.status == TaskStatus.failed and task.error == "Deadline exceeded"
    health = await agents.agent_health(temporal_client, get_settings(), agent_id)
    assert health.status == "healthy" and health.last_heartbeat is not None
    await agents.terminate_agent(temporal_client, agent_id, caller=SERVICE)


async def test_executor_not_configured_fails_clearly_never_fakes_success(temporal_client: Client) -> None:
    agent_id = await _agent(temporal_client, type="researcher", config={})  # researcher → llm, not configured
    task_id = await _task(temporal_client, "true", description="summarise the repo")
    await tasks.assign_task(temporal_client, task_id, agent_id, caller=SERVICE)
    task = await finished(temporal_client, task_id)
    assert task.status == TaskStatus.failed and task.result is None
    assert "llm executor" in task.error and "STELLARFLOW_LLM_BASE_URL" in task.error, task.error
    await agents.terminate_agent(temporal_client, agent_id, caller=SERVICE)


async def test_swarm_pause_resume_scale_broadcast_and_status(temporal_client: Client) -> None:
    settings = get_settings()
    swarm = await new_swarm(temporal_client, topology="star", agents=[{"type": "coder", "count": 2}])
    swarm_id = swarm.spec.id

    async def control(action: str, **parameters) -> dict:
        outcome = await swarms.control_swarm(temporal_client, settings, swarm_id,
                                             ControlRequest(action=action, parameters=parameters),
                                             caller=SERVICE, tier="enterprise")
        return outcome.detail

    await control("pause")
    held = await submit(temporal_client, swarm_id, "true")
    await asyncio.sleep(0.5)  # give a (wrong) assignment the chance to happen
    assert (await tasks.get_task(temporal_client, held.spec.id, caller=SERVICE)).status == TaskStatus.queued
    await control("resume")
    assert (await finished(temporal_client, held.spec.id)).status == TaskStatus.completed

    added = await control("scale", agent_type="tester", count=2, operation="add")
    assert added["added"] == 2
    grown = await eventually(lambda: swarms.get_swarm(temporal_client, swarm_id),
                             lambda s: len(s.live_agents) == 4, "two testers to join")
    removed = await control("scale", agent_type="tester", count=1, operation="remove")
    assert len(removed["removed"]) == 1
    await eventually(lambda: swarms.get_swarm(temporal_client, swarm_id),
                     lambda s: len(s.live_agents) == 3, "a tester to leave")

    reached = await swarms.broadcast(temporal_client, swarm_id, Directive(content="Switch to high-priority mode",
                                                                         priority="high"), caller=SERVICE)
    assert reached == 3
    for agent in [a for a in grown.agents if a.id not in removed["removed"]]:
        state = await eventually(lambda a=agent: agents.get_agent(temporal_client, a.id, caller=SERVICE),
                                 lambda s: s.directives, f"agent {agent.id} to get the directive")
        assert state.directives[-1].content == "Switch to high-priority mode"

    batch = [await submit(temporal_client, swarm_id, "sleep 0.2") for _ in range(6)]
    await asyncio.gather(*(finished(temporal_client, t.spec.id) for t in batch))
    status = await eventually(lambda: swarms.swarm_status(temporal_client, swarm_id),
                              lambda s: s.tasks["completed"] == 7, "status counts")
    assert status.tasks == {"total": 7, "completed": 7, "failed": 0, "cancelled": 0, "in_progress": 0,
                            "pending": 0}
    assert status.progress == 1.0 and status.agents["total"] == 3
    perf = status.performance
    assert perf.throughput is None and perf.finished == 7  # seven tasks in seconds are no rate (core/rates.py)
    assert perf.window_s and 0 < perf.efficiency <= 1
    assert 0 <= perf.coordination_overhead < 1
    rebalanced = await control("rebalance")
    assert "agents_asked" in rebalanced

    with pytest.raises(Conflict):  # a swarm with queued work is only deleted with force
        blocker = await submit(temporal_client, swarm_id, "sleep 30")
        await running(temporal_client, blocker.spec.id)
        await swarms.delete_swarm(temporal_client, swarm_id, force=False, caller=SERVICE)
    final = await swarms.delete_swarm(temporal_client, swarm_id, force=True, caller=SERVICE)
    assert final.status.value == "terminated"
    assert (await finished(temporal_client, blocker.spec.id)).status == TaskStatus.cancelled
    for agent in final.agents:
        await eventually(lambda a=agent: agents.get_agent(temporal_client, a.id, caller=SERVICE),
                         lambda s: s.status == AgentStatus.terminated, f"agent {agent.id} to terminate")


async def test_swarm_and_agents_continue_as_new_without_losing_count(temporal_client: Client) -> None:
    """With a small history limit the swarm and its agent start afresh many times over; nothing is lost."""

    settings = get_settings()
    body = swarms.SwarmCreate(name="long-lived", topology="star", agent_config=SHELL,
                              initial_agents=[{"type": "coder", "count": 1}])
    spec_state = await swarms.create_swarm(temporal_client, settings, body, caller=SERVICE, tier="enterprise")
    swarm_id = spec_state.spec.id
    # Restart it with a tight limit: terminate the default run, start one that continues as new every ~60 events.
    handle = temporal_client.get_workflow_handle(swarm_id)
    await eventually(lambda: swarms.get_swarm(temporal_client, swarm_id), lambda s: len(s.agents) == 1, "agent")
    swarm: SwarmState = await swarms.get_swarm(temporal_client, swarm_id)
    await handle.terminate("restarting with a small history limit")
    swarm_input = swarms.swarm_input(settings, swarm.spec, SHELL).model_copy(update={"state": swarm,
                                                                                      "history_limit": 60})
    await temporal_client.start_workflow("SwarmWorkflow", swarm_input, id=swarm_id, task_queue=settings.task_queue)
    batch = [await submit(temporal_client, swarm_id, "true") for _ in range(25)]
    done = await asyncio.gather(*(finished(temporal_client, t.spec.id) for t in batch))
    assert all(t.status == TaskStatus.completed for t in done)
    final = await eventually(lambda: swarms.get_swarm(temporal_client, swarm_id),
                             lambda s: s.tasks_completed == 25, "25 completions counted")
    assert final.tasks_total == 25 and not final.assigned and not final.queue
    runs = [w async for w in temporal_client.list_workflows(f"WorkflowId = '{swarm_id}'")]
    assert len(runs) >= 3, f"expected continue-as-new, saw {len(runs)} runs"


async def test_llm_agent_gets_memory_context_and_its_cognitive_pattern(temporal_client: Client) -> None:
    """An LLM agent's task names memory keys: their values reach the prompt through the memory service, the
    agent's cognitivePattern reaches the system prompt, and the answer's file block lands in the workspace."""
    from core.memory.service import Caller, service_for
    from tests.fakes.openai_server import FakeOpenAIServer

    service_for().store(Caller(owner=None), "project-x", "decisions/db", {"database": "PostgreSQL 16"},
                        access_level="shared")
    answer = "Here it is.\n```python path=src/db.py\nDATABASE = 'postgresql'\n```\n"
    with FakeOpenAIServer(answer) as llm:
        allowed = get_settings().model_copy(update={"llm_allowed_urls": [llm.base_url]})  # the operator's list
        agent_id = await _agent(temporal_client, allowed, type="backend-dev", config={
            "executor": "llm", "base_url": llm.base_url + "/v1", "model": "fake-model",
            "cognitivePattern": "critical", "temperature": 0.2, "max_tokens": 500})
        task_id = await _task(temporal_client, "unused", description="Write the database settings module",
                              requirements={"memory_keys": ["decisions/db", "missing"],
                                            "memory_namespace": "project-x"})
        await tasks.assign_task(temporal_client, task_id, agent_id, caller=SERVICE)
        task = await finished(temporal_client, task_id)
        assert task.status == TaskStatus.completed, task.error
        messages = llm.messages()
        body = llm.chat_requests[-1].json()
    assert "PostgreSQL 16" in messages["user"] and "Write the database settings module" in messages["user"]
    assert "critical" in messages["system"].lower()
    assert body["model"] == "fake-model" and body["temperature"] == 0.2 and body["max_tokens"] == 500
    assert task.result.files_created == ["src/db.py"] and task.result.tokens.total == 59
    assert task.result.api_calls == 1
    await agents.terminate_agent(temporal_client, agent_id, caller=SERVICE)


async def test_quotas_cap_agents_and_tasks_per_hour(temporal_client: Client, app) -> None:
    """Free tier: 5 live agents (403 past that, until one is terminated); tasks per hour is a rate quota (429 with
    Retry-After). The agent check goes through the API as a Free user; the hourly one uses a lowered limit."""
    from core.limits.quotas import TierQuotas
    from tests.support import client_for, new_user, token_for

    user = new_user("developer", tier="free")
    async with client_for(app, token_for(user=user)) as api:
        created = []
        for n in range(5):
            response = await api.post("/api/agents", json={"type": "coder", "name": f"quota-{n}",
                                                           "config": {"executor": "shell"}})
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
        refused = await api.post("/api/agents", json={"type": "coder", "config": {"executor": "shell"}})
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "QUOTA_EXCEEDED" and error["details"]["quota"] == "agents"
        assert error["details"]["used"] == 5 and error["details"]["limit"] == 5
        assert (await api.delete(f"/api/agents/{created[0]}")).status_code == 200
        again = await api.post("/api/agents", json={"type": "coder", "config": {"executor": "shell"}})
        assert again.status_code == 201, again.text
        for agent_id in [*created[1:], again.json()["id"]]:
            await api.delete(f"/api/agents/{agent_id}")

    settings = get_settings().model_copy(update={"quotas": {**get_settings().quotas,
                                                            "free": TierQuotas(agents=5, tasks_per_hour=2)}})
    for _ in range(2):
        await tasks.create_task(temporal_client, settings, tasks.TaskCreate(description="counted"),
                                caller=caller_of(user), tier="free")
    from core.errors import QuotaExceeded

    with pytest.raises(QuotaExceeded) as caught:
        await tasks.create_task(temporal_client, settings, tasks.TaskCreate(description="one too many"),
                                caller=caller_of(user), tier="free")
    assert caught.value.status == 429 and int(caught.value.headers["Retry-After"]) > 3500
