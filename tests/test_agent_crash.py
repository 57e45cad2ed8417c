"""A worker killed while an agent's task runs (issue 4): after a new worker starts, the task completes once, the
agent returns to idle, and the swarm's counts are right.

The swarm, its agent and the task run on a task queue of their own, served only by worker processes this test
starts and SIGKILLs (the session's in-process worker polls `stellarflow`). The command runs sandboxed, so the test
tells its attempts apart by their processes on the host (their arguments are unique) and by what the finished
attempt left in the task's workspace."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from core.agents import agents, swarms, tasks
from core.agents.models import AgentStatus, TaskStatus
from core.events.store import list_events
from core.settings import get_settings
from tests.processes import WorkerProcess, lines, pids_running, running, wait_for
from tests.support import SERVICE
from tests.swarm_support import SHELL, eventually

SLEEP = "sleep 2.017"
TEST_BUDGET_S = 60  # a hang guard: the run takes ~10 s (heartbeat timeout, retry, sticky-queue timeout)


async def test_killed_worker_resumes_the_agents_task(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    began = time.monotonic()
    client = temporal_env.client
    queue = f"agent-crash-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "STELLARFLOW_TASK_QUEUE": queue,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "STELLARFLOW_TEMPORAL_NAMESPACE": client.namespace,
        "STELLARFLOW_HEARTBEAT_TIMEOUT_S": "2",
        "STELLARFLOW_MANAGE_SCHEDULES": "false",  # its own task queue: leave the session's schedules alone
    }
    settings = get_settings().model_copy(update={"task_queue": queue, "heartbeat_timeout_s": 2})
    workers = [WorkerProcess(env, tmp_path / "worker-1.log")]
    try:
        body = swarms.SwarmCreate(name="crash", topology="star", agent_config=SHELL,
                                  initial_agents=[{"type": "coder", "count": 1}])
        swarm = await swarms.create_swarm(client, settings, body, caller=SERVICE, tier="enterprise")
        command = f"{SLEEP}; echo ran >> done; echo finished"
        task = await tasks.create_task(client, settings, tasks.TaskCreate(
            description="survive a crash", requirements={"command": command}, swarm_id=swarm.spec.id),
            caller=SERVICE, tier="enterprise")
        await wait_for(lambda: len(pids_running(SLEEP)) == 1, "the task to start", 20, workers)
        [first_attempt] = pids_running(SLEEP)

        workers[0].kill()
        assert workers[0].proc.returncode == -signal.SIGKILL
        await wait_for(lambda: not running(first_attempt), "the orphaned command to die with its worker", 10, [])
        workers.append(WorkerProcess(env, tmp_path / "worker-2.log"))

        remaining = TEST_BUDGET_S - (time.monotonic() - began)
        done = await eventually(lambda: tasks.get_task(client, task.spec.id, caller=SERVICE),
                                lambda t: t.status in (TaskStatus.completed, TaskStatus.failed, TaskStatus.cancelled),
                                "the task to finish after the crash", remaining)
        assert done.status == TaskStatus.completed, (done, workers[-1].output())
        [workspace] = get_settings().workspaces_dir.glob(f"*/{task.spec.id}")
        assert lines(workspace / "done") == ["ran"]  # the work finished once …
        assert "finished" in done.result.output
        assert "started from the workspace snapshot" in done.result.output  # … on a second attempt

        # the task's state is read live; its events are written in batches a moment later
        task_events = await eventually(lambda: asyncio.to_thread(lambda: [e.type for e in list_events(task.spec.id)]),
                                       lambda types: "task.completed" in types, "the task's completion event")
        assert task_events.count("task.completed") == 1, task_events

        state = await swarms.get_swarm(client, swarm.spec.id)
        agent_id = state.agents[0].id
        agent = await eventually(lambda: agents.get_agent(client, agent_id, caller=SERVICE),
                                 lambda a: a.status == AgentStatus.idle and a.metrics.tasks_completed == 1,
                                 "the agent to be idle again")
        assert agent.current_task is None and [h.task_id for h in agent.history] == [task.spec.id]
        status = await eventually(lambda: swarms.swarm_status(client, swarm.spec.id),
                                  lambda s: s.tasks["completed"] == 1, "the swarm to count the completion")
        assert status.tasks == {"total": 1, "completed": 1, "failed": 0, "cancelled": 0, "in_progress": 0,
                                "pending": 0}
        assert status.agents["idle"] == 1 and status.agents["active"] == 0
        await swarms.delete_swarm(client, swarm.spec.id, force=True, caller=SERVICE)
    finally:
        for worker in workers:
            worker.stop()
