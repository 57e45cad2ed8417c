"""Record real workflow histories for the replay test (`tests/test_replay.py`).

    python -m tests.histories.record        (or: make histories)

Starts one Temporal dev server, an in-process worker and the real app in a fresh temporary data dir, drives every
workflow type end to end (through the public HTTP API, and the Temporal client by workflow/signal/query names
where the API has no door), waits for each workflow to close and writes its history to
`tests/histories/<scenario>-<kind>[-runN].json`.

It imports only names meant to survive refactors: `api.main.create_app`, `worker.build_worker`, `core.settings`,
`core.temporal` and two `core.auth` helpers (an admin token). Everything else is HTTP with plain JSON bodies, or
Temporal by string name with plain dict inputs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

HERE = Path(__file__).resolve().parent
TIMEOUT = 60.0
SHELL = {"executor": "shell"}


# ---- small helpers ----------------------------------------------------------------------------------------------


async def eventually(probe: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool], what: str,
                     timeout: float = TIMEOUT, interval: float = 0.1) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if loop.time() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}; last: {value!r}"[:4000])
        await asyncio.sleep(interval)


class Api:
    """The app over httpx, as an admin; every call checks its status code."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, method: str, url: str, expect: int | tuple[int, ...] = (200, 201, 202, 204),
                   **kwargs: Any) -> Any:
        response = await self.http.request(method, url, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in expected:
            raise RuntimeError(f"{method} {url} answered {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    async def get(self, url: str, **kwargs: Any) -> Any:
        return await self.call("GET", url, 200, **kwargs)

    async def post(self, url: str, body: Any = None, expect: int | tuple[int, ...] = (200, 201, 202)) -> Any:
        """POST JSON; answers the body."""
        return await self.call("POST", url, expect, json=body)

    async def delete(self, url: str, expect: int | tuple[int, ...] = (200, 202, 204), **kwargs: Any) -> Any:
        return await self.call("DELETE", url, expect, **kwargs)

    # pipelines

    async def start_run(self, definition: dict[str, Any], inputs: dict[str, Any] | None = None) -> str:
        created = await self.post("/api/v2/workflows", definition, expect=201)
        started = await self.post(f"/api/v2/workflows/{created['data']['id']}/runs", {"inputs": inputs or {}},
                                  expect=202)
        return started["data"]["id"]

    async def run(self, run_id: str) -> dict[str, Any]:
        return (await self.get(f"/api/v2/runs/{run_id}"))["data"]

    async def run_until(self, run_id: str, *statuses: str) -> dict[str, Any]:
        return await eventually(lambda: self.run(run_id), lambda r: r["status"] in statuses,
                                f"run {run_id} to be {'/'.join(statuses)}")

    async def step_until(self, run_id: str, step_id: str, accept: Callable[[dict[str, Any]], bool]) -> None:
        def matches(run: dict[str, Any]) -> bool:
            return any(s["id"] == step_id and accept(s) for s in run["steps"])

        await eventually(lambda: self.run(run_id), matches, f"step {step_id} of run {run_id}")

    # agents and tasks

    async def task_until(self, task_id: str, *statuses: str) -> dict[str, Any]:
        return await eventually(lambda: self.get(f"/api/tasks/{task_id}"), lambda t: t["status"] in statuses,
                                f"task {task_id} to be {'/'.join(statuses)}")

    async def new_task(self, command: str, **fields: Any) -> str:
        body = {"description": f"run {command}", "requirements": {"command": command}, **fields}
        return (await self.post("/api/tasks", body, expect=201))["id"]


def cmd(step_id: str, command: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": "execute-command", "parameters": {"command": command}, **extra}


async def wait_closed(client: Client, workflow_id: str, run_id: str | None = None) -> WorkflowHandle:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    await eventually(handle.describe, lambda d: d.status != WorkflowExecutionStatus.RUNNING,
                     f"workflow {workflow_id} to close")
    return handle


async def runs_of(client: Client, workflow_id: str) -> list[Any]:
    """Every run of a workflow id, oldest first, once all are closed and visibility has the last one."""

    async def listing() -> list[Any]:
        return [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]

    def complete(runs: list[Any]) -> bool:
        if not runs or any(r.status == WorkflowExecutionStatus.RUNNING for r in runs):
            return False
        last = max(runs, key=lambda r: r.start_time)
        return last.status != WorkflowExecutionStatus.CONTINUED_AS_NEW

    runs = await eventually(listing, complete, f"every run of {workflow_id} to be closed and listed", interval=0.5)
    return sorted(runs, key=lambda r: r.start_time)


async def start_input(client: Client, handle: WorkflowHandle) -> dict[str, Any]:
    """The (first) argument a run was started with, as plain JSON data."""
    history = await handle.fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    return (await client.data_converter.decode(list(payloads)))[0]


async def restart_with_limit(client: Client, workflow_id: str, workflow_type: str, task_queue: str,
                             limit: int) -> None:
    """Terminate a live entity and start it again by name with its current state and a small history limit, so it
    continues as new every ~`limit` events (like tests/test_agent_lifecycle.py does for swarms)."""
    handle = client.get_workflow_handle(workflow_id)
    arguments = await start_input(client, handle)
    state = await handle.query("status")
    await handle.terminate("recording: restart with a small history limit")
    arguments = {**arguments, "state": state, "history_limit": limit}
    await client.start_workflow(workflow_type, arguments, id=workflow_id, task_queue=task_queue)


class HistoryWriter:
    """Writes histories into `folder` (a staging folder: tests/histories is only replaced once all are written) and
    remembers what it wrote."""

    def __init__(self, client: Client, folder: Path) -> None:
        self.client = client
        self.folder = folder
        self.written: list[tuple[str, str, int, int]] = []

    async def save(self, name: str, workflow_id: str, run_id: str | None = None) -> None:
        handle = await wait_closed(self.client, workflow_id, run_id)
        history = await handle.fetch_history()
        text = history.to_json()
        path = self.folder / f"{name}.json"
        if path.exists():
            raise RuntimeError(f"two histories named {path.name}")
        path.write_text(text + "\n")
        kind = history.events[0].workflow_execution_started_event_attributes.workflow_type.name
        self.written.append((path.name, kind, len(history.events), path.stat().st_size))
        print(f"{path.name:45} {kind:20} {len(history.events):5} events {path.stat().st_size:9,} bytes", flush=True)

    async def save_chain(self, name: str, workflow_id: str) -> int:
        """Every run of the workflow id, as `<name>-runN`; answers how many continued as new."""
        runs = await runs_of(self.client, workflow_id)
        for number, run in enumerate(runs, 1):
            await self.save(f"{name}-run{number}", workflow_id, run.run_id)
        return sum(r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW for r in runs)


# ---- scenarios --------------------------------------------------------------------------------------------------


async def pipelines(api: Api, rec: HistoryWriter) -> None:
    # A chain of five commands, with a durable wait and a local step in it.
    chain = await api.start_run({"name": "history chain", "steps": [
        cmd("one", "true"),
        cmd("two", "true", dependsOn=["one"]),
        {"id": "pause", "action": "wait", "parameters": {"duration": "300ms"}, "dependsOn": ["two"]},
        cmd("three", "true", dependsOn=["pause"]),
        cmd("four", "true", dependsOn=["three"], local=True),
        cmd("five", "true", dependsOn=["four"]),
    ]})
    assert (await api.run_until(chain, "succeeded", "failed", "cancelled"))["status"] == "succeeded"
    await rec.save("pipeline-chain", chain)

    fanout = await api.start_run({
        "name": "history fan-out",
        "inputs": {"targets": {"type": "string", "default": "a,b,c"}},
        "steps": [
            {**cmd("each", "echo item={{ item }}"), "forEach": "{{ inputs.targets.split(',') }}"},
            {**cmd("grid", "echo {{ matrix.os }}-{{ matrix.py }}"),
             "matrix": {"os": ["linux", "mac"], "py": ["3.11", "3.12"]}},
            cmd("join", "echo {{ steps.each.outputs.results | length }} {{ steps.grid.outputs.results | length }}",
                dependsOn=["each", "grid"]),
        ],
    })
    assert (await api.run_until(fanout, "succeeded", "failed", "cancelled"))["status"] == "succeeded"
    await rec.save("pipeline-fanout", fanout)

    gated = await api.start_run({"name": "history approval", "steps": [
        cmd("build", "true"),
        # one recording user starts and approves: the step must allow that (docs/dsl.md, approval)
        {"id": "gate", "action": "approval", "parameters": {"message": "Ship it?", "allowSelfApproval": True},
         "dependsOn": ["build"]},
        cmd("ship", "echo shipped", dependsOn=["gate"]),
    ]})
    await api.step_until(gated, "gate", lambda s: (s.get("approval") or {}).get("status") == "waiting")
    await api.post(f"/api/v2/runs/{gated}/steps/gate/approve", {"comment": "recorded"})
    assert (await api.run_until(gated, "succeeded", "failed", "cancelled"))["status"] == "succeeded"
    await rec.save("pipeline-approval", gated)

    failing = await api.start_run({"name": "history failure", "steps": [
        cmd("lint", "exit 1", continueOnError=True),
        cmd("build", "echo building; exit 3", dependsOn=["lint"]),
        cmd("deploy", "true", dependsOn=["build"]),
        cmd("after-deploy", "true", dependsOn=["deploy"]),
        cmd("independent", "true"),
    ]})
    assert (await api.run_until(failing, "succeeded", "failed", "cancelled"))["status"] == "failed"
    await rec.save("pipeline-failure", failing)

    cancelled = await api.start_run({"name": "history cancel", "steps": [
        cmd("long", "sleep 30"),
        cmd("next", "true", dependsOn=["long"]),
    ]})
    await api.step_until(cancelled, "long", lambda s: s["status"] == "running")
    await asyncio.sleep(0.5)  # let the command start for real
    await api.post(f"/api/v2/runs/{cancelled}/cancel", expect=202)
    assert (await api.run_until(cancelled, "succeeded", "failed", "cancelled"))["status"] == "cancelled"
    await rec.save("pipeline-cancelled", cancelled)


async def automation(api: Api, rec: HistoryWriter, client: Client, scratch: Path) -> None:
    """The shapes triggers, re-runs, sub-workflows, concurrency groups, artifacts and git sources add."""
    # a run started by a Temporal Schedule (a one-second `every:`), then the workflow deleted with its schedule
    await api.call("PUT", "/api/v2/workflows/history-scheduled", 200, json={
        "name": "history scheduled", "triggers": [{"type": "schedule", "every": "1s"}],
        "steps": [cmd("tick", "echo {{ trigger.type }}")]})

    async def scheduled_runs() -> list[dict[str, Any]]:
        return (await api.get("/api/v2/workflows/history-scheduled/runs"))["data"]

    runs = await eventually(scheduled_runs, lambda rs: any(r["status"] == "succeeded" for r in rs), "a scheduled run")
    await api.delete("/api/v2/workflows/history-scheduled")
    await rec.save("pipeline-scheduled", next(r["id"] for r in runs if r["status"] == "succeeded"))

    # a run that fails, then its re-run of the failed steps only (the succeeded ones reused)
    flag = scratch / "rerun-flag"
    first = await api.start_run({"name": "history rerun", "steps": [
        cmd("build", "echo built > out.txt"),
        cmd("test", f'cat out.txt && test -f "{flag}"', dependsOn=["build"]),
    ]})
    assert (await api.run_until(first, "succeeded", "failed", "cancelled"))["status"] == "failed"
    flag.write_text("fixed")
    second = (await api.post(f"/api/v2/runs/{first}/rerun", {"failedOnly": True}, expect=202))["data"]["id"]
    assert (await api.run_until(second, "succeeded", "failed", "cancelled"))["status"] == "succeeded"
    await rec.save("pipeline-rerun-original", first)
    await rec.save("pipeline-rerun", second)

    # a sub-workflow: the parent's run-workflow step and the child run
    await api.call("PUT", "/api/v2/workflows/history-child", 200, json={
        "name": "history child", "inputs": {"word": {"type": "string", "default": "hi"}},
        "steps": [cmd("say", 'echo "said={{ inputs.word }}" >> "$STELLARFLOW_OUTPUT"')]})
    parent = await api.start_run({"name": "history parent", "steps": [
        {"id": "sub", "action": "run-workflow", "parameters": {"workflow": "history-child", "inputs": {"word": "yo"}}},
        cmd("use", "echo {{ steps.sub.outputs.steps.say.said }}", dependsOn=["sub"]),
    ]})
    parent_run = await api.run_until(parent, "succeeded", "failed", "cancelled")
    assert parent_run["status"] == "succeeded", parent_run
    await rec.save("pipeline-parent", parent)
    await rec.save("pipeline-child", next(s for s in parent_run["steps"] if s["id"] == "sub")["childRunId"])

    # two runs in one concurrency group (run level) and a step-level group; the group's own workflow
    grouped = {"name": "history grouped", "concurrency": {"group": "history-{{ inputs.env }}"},
               "inputs": {"env": {"type": "string", "default": "prod"}},
               "steps": [{**cmd("deploy", "sleep 0.5"), "concurrency": {"group": "history-step"}}]}
    created = await api.post("/api/v2/workflows", grouped, expect=201)
    ids = [(await api.post(f"/api/v2/workflows/{created['data']['id']}/runs", {"inputs": {}}, expect=202))["data"]["id"]
           for _ in range(2)]
    for run_id in ids:
        assert (await api.run_until(run_id, "succeeded", "failed", "cancelled"))["status"] == "succeeded"
    await rec.save("pipeline-concurrency-first", ids[0])
    await rec.save("pipeline-concurrency-second", ids[1])

    async def groups() -> list[Any]:
        return [w async for w in client.list_workflows("WorkflowType = 'ConcurrencyGroupWorkflow'")]

    found = await eventually(groups, lambda ws: len(ws) >= 2 and all(
        w.status != WorkflowExecutionStatus.RUNNING for w in ws), "the concurrency groups to close", interval=0.5)
    for number, group in enumerate(sorted(found, key=lambda w: w.id), 1):
        await rec.save(f"concurrency-group{number}", group.id, group.run_id)

    # artifacts: stored by one step, fetched by the next through their template
    artifacts = await api.start_run({"name": "history artifacts", "steps": [
        {**cmd("build", "mkdir -p dist && echo wheel > dist/app.whl"), "artifacts": {"paths": ["dist/*.whl"]}},
        cmd("use", 'echo "{{ artifacts.build["app.whl"] }}"', dependsOn=["build"]),
    ]})
    assert (await api.run_until(artifacts, "succeeded", "failed", "cancelled"))["status"] == "succeeded"
    await rec.save("pipeline-artifacts", artifacts)
    swept = f"artifact-sweep-history-{int(time.time())}"
    await client.execute_workflow("ArtifactSweepWorkflow", id=swept, task_queue="stellarflow")
    await rec.save("artifact-sweep", swept)

    # a git source synced from a bare repository over file://
    bare, work = scratch / "defs.git", scratch / "defs-work"
    git_env = {"GIT_AUTHOR_NAME": "h", "GIT_AUTHOR_EMAIL": "h@example.com", "GIT_COMMITTER_NAME": "h",
               "GIT_COMMITTER_EMAIL": "h@example.com", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": str(scratch)}
    for args, cwd in ((["init", "--bare", "--initial-branch=main", str(bare)], scratch),
                      (["init", "--initial-branch=main", str(work)], scratch)):
        subprocess.run(["git", *args], cwd=cwd, env=git_env, check=True, capture_output=True)
    (work / "definitions").mkdir()
    (work / "definitions" / "history-synced.yaml").write_text(
        "name: synced\nsteps:\n  - {id: a, action: execute-command, parameters: {command: 'true'}}\n")
    for args in (["add", "."], ["commit", "-m", "defs"], ["push", str(bare), "main"]):
        subprocess.run(["git", *args], cwd=work, env=git_env, check=True, capture_output=True)
    source = (await api.post("/api/v2/sources", {"name": "history", "url": f"file://{bare}", "interval": 0},
                             expect=201))["data"]["id"]

    async def syncs() -> list[Any]:
        return [w async for w in client.list_workflows(f"WorkflowType = 'SyncSourceWorkflow' AND "
                                                       f"WorkflowId STARTS_WITH 'sync-{source}'")]

    found = await eventually(syncs, lambda ws: len(ws) == 1 and ws[0].status != WorkflowExecutionStatus.RUNNING,
                             "the source's first sync", interval=0.5)
    await rec.save("sync-source", found[0].id)


async def agent_and_tasks(api: Api, rec: HistoryWriter) -> None:
    agent = (await api.post("/api/agents", {"type": "coder", "name": "history-agent", "config": SHELL},
                            expect=201))["id"]
    await eventually(lambda: api.get(f"/api/agents/{agent}"), lambda a: a["status"] == "idle", "the agent idle")

    done = await api.new_task("echo hi")
    await api.post(f"/api/tasks/{done}/assign", {"agent_id": agent})
    assert (await api.task_until(done, "completed", "failed", "cancelled"))["status"] == "completed"

    stopped = await api.new_task("sleep 30")
    await api.post(f"/api/tasks/{stopped}/assign", {"agent_id": agent})
    await api.task_until(stopped, "running")
    await asyncio.sleep(0.5)
    await api.delete(f"/api/tasks/{stopped}")
    assert (await api.task_until(stopped, "completed", "failed", "cancelled"))["status"] == "cancelled"

    await eventually(lambda: api.get(f"/api/agents/{agent}"), lambda a: a["status"] == "idle", "the agent idle")
    await api.delete(f"/api/agents/{agent}")
    await rec.save("agent", agent)
    await rec.save("task-completed", done)
    await rec.save("task-cancelled", stopped)


async def swarm(api: Api, rec: HistoryWriter, client: Client) -> None:
    created = await api.post("/api/swarms", {
        "name": "history swarm", "topology": "star", "agent_config": SHELL,
        "initial_agents": [{"type": "tester", "count": 2}],
    }, expect=201)
    swarm_id = created["id"]
    status_url = f"/api/swarms/{swarm_id}/status"
    await eventually(lambda: api.get(status_url),
                     lambda s: s["status"] == "active" and s["agents"]["total"] == 2, "the swarm's agents")

    async def submit(command: str) -> str:
        return await api.new_task(command, swarm_id=swarm_id)

    async def control(action: str, **parameters: Any) -> dict[str, Any]:
        return await api.post(f"/api/swarms/{swarm_id}/control", {"action": action, "parameters": parameters})

    async def live_agents() -> list[dict[str, Any]]:
        state = await client.get_workflow_handle(swarm_id).query("status")
        return [a for a in state["agents"] if a["status"] != "terminated"]

    first = [await submit("true") for _ in range(4)]
    for task_id in first:
        await api.task_until(task_id, "completed")

    await control("scale", agent_type="coder", count=2, operation="add")
    await eventually(live_agents, lambda agents: len(agents) == 4, "two coders to join")
    await control("scale", agent_type="coder", count=1, operation="remove")
    await eventually(live_agents, lambda agents: len(agents) == 3, "a coder to leave")
    await api.post(f"/api/swarms/{swarm_id}/broadcast",
                   {"message": {"type": "directive", "content": "Recording histories", "priority": "high"}})

    # A burst queues work on every agent; rebalance makes the busy ones hand their queues back.
    burst = [await submit("sleep 0.3") for _ in range(9)]
    await control("rebalance")
    for task_id in burst:
        await api.task_until(task_id, "completed")
    await control("optimize")

    blocker = await submit("sleep 30")
    await api.task_until(blocker, "running")
    await asyncio.sleep(0.5)
    agents = (await client.get_workflow_handle(swarm_id).query("status"))["agents"]
    await api.delete(f"/api/v2/swarms/{swarm_id}", params={"force": "true"})
    await api.task_until(blocker, "cancelled")

    await rec.save("swarm", swarm_id)
    for number, agent in enumerate(agents, 1):
        await rec.save(f"swarm-agent{number}", agent["id"])
    await rec.save("swarm-task-completed", first[0])
    await rec.save("swarm-task-cancelled", blocker)


async def swarm_continue_as_new(api: Api, rec: HistoryWriter, client: Client, task_queue: str) -> None:
    created = await api.post("/api/swarms", {
        "name": "history long-lived", "topology": "star", "agent_config": SHELL,
        "initial_agents": [{"type": "coder", "count": 1}],
    }, expect=201)
    swarm_id = created["id"]
    await eventually(lambda: api.get(f"/api/swarms/{swarm_id}/status"),
                     lambda s: s["status"] == "active" and s["agents"]["total"] == 1, "the swarm's agent")
    agent_id = (await client.get_workflow_handle(swarm_id).query("status"))["agents"][0]["id"]
    await eventually(lambda: api.get(f"/api/agents/{agent_id}"), lambda a: a["status"] == "idle", "the agent idle")

    # Restart both with a small history limit: each continues as new every ~60 events. The swarm first, so the
    # agent's termination is not reported to the (live) run that started it.
    await restart_with_limit(client, swarm_id, "SwarmWorkflow", task_queue, 60)
    await restart_with_limit(client, agent_id, "AgentWorkflow", task_queue, 60)

    # Waves with a pause between them: a swarm kept busy puts continuing as new off until it is quiet.
    for _ in range(5):
        wave = [await api.new_task("true", swarm_id=swarm_id) for _ in range(5)]
        for task_id in wave:
            await api.task_until(task_id, "completed")
        await asyncio.sleep(1.5)
    await eventually(lambda: client.get_workflow_handle(swarm_id).query("status"),
                     lambda s: s["tasks_completed"] == 25, "25 completions counted")
    await api.delete(f"/api/v2/swarms/{swarm_id}", params={"force": "true"})

    continued = await rec.save_chain("swarm-continue-as-new", swarm_id)
    if continued < 2:
        raise RuntimeError(f"the swarm continued as new only {continued} time(s)")
    await rec.save_chain("swarm-continue-as-new-agent", agent_id)


async def memory_sweep(api: Api, rec: HistoryWriter, client: Client, task_queue: str) -> None:
    await api.post("/api/memory", {"key": "histories/expiring", "value": {"note": "gone soon"}, "ttl": 1},
                   expect=201)
    await asyncio.sleep(1.5)
    workflow_id = f"memory-sweep-history-{int(time.time())}"
    swept = await client.execute_workflow("MemorySweepWorkflow", id=workflow_id, task_queue=task_queue)
    if not swept:
        raise RuntimeError(f"the sweep removed nothing: {swept!r}")
    await rec.save("memory-sweep", workflow_id)


async def reconcile(api: Api, rec: HistoryWriter, client: Client, task_queue: str) -> None:
    """A pass that finds a deleted run row and rebuilds it (the run's row is deleted straight in the database)."""
    from sqlalchemy import text

    from core.db import get_engine
    from core.reconcile.contracts import ReconcileRequest

    run_id = await api.start_run({"name": "History: reconciled", "steps": [cmd("a", "true")]})
    await api.run_until(run_id, "succeeded")
    await eventually(lambda: runs_of(client, run_id), bool, "the run in Temporal's visibility")
    with get_engine().begin() as connection:
        connection.execute(text("DELETE FROM runs WHERE id = :id"), {"id": run_id})
    workflow_id = f"reconcile-history-{int(time.time())}"
    report = await client.execute_workflow("ReconcileWorkflow", ReconcileRequest(only=[run_id]), id=workflow_id,
                                           task_queue=task_queue, result_type=dict)
    if [fix["id"] for fix in report["fixes"]] != [run_id]:
        raise RuntimeError(f"the reconcile pass did not rebuild {run_id}: {report}")
    await rec.save("reconcile", workflow_id)


async def github(api: Api, rec: HistoryWriter, scratch: Path, app: Any) -> None:
    """A repository analysis (all three phases), a PR security review, and a PR's agent-driven tests (the fake
    OpenAI server as the llm executor) pushed to a branch, against the fake GitHub of the tests
    (tests/fakes/github.py: REST and git over HTTP on 127.0.0.1)."""
    from core.settings import reset_settings
    from tests.fakes.github import FakeGitHub
    from tests.fakes.openai_server import FakeOpenAIServer

    root = scratch / "github"
    bare, work = root / "octo" / "hist.git", scratch / "hist-work"
    bare.mkdir(parents=True)
    git_env = {"GIT_AUTHOR_NAME": "h", "GIT_AUTHOR_EMAIL": "h@example.com", "GIT_COMMITTER_NAME": "h",
               "GIT_COMMITTER_EMAIL": "h@example.com", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": str(scratch)}

    def git(*args: str, cwd: Path) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=git_env, check=True, capture_output=True)

    git("init", "--bare", "--initial-branch=main", str(bare), cwd=scratch)
    git("init", "--initial-branch=main", str(work), cwd=scratch)
    (work / "app.py").write_text("import subprocess\n\n\ndef run(c):\n    return subprocess.call(c, shell=True)\n")
    for args in (["add", "."], ["commit", "-m", "app"], ["push", str(bare), "main"], ["checkout", "-b", "feature"]):
        git(*args, cwd=work)
    (work / "app.py").write_text((work / "app.py").read_text() + "\n\ndef ev(x):\n    return eval(x)\n")
    for args in (["commit", "-am", "ev"], ["push", str(bare), "feature"]):
        git(*args, cwd=work)
    with FakeGitHub(root, token="ghp_history") as fake:
        fake.add_pull("octo/hist", 1, "feature")
        os.environ.update({"STELLARFLOW_GITHUB_API_URL": fake.url, "STELLARFLOW_GITHUB_TOKEN": "ghp_history",
                           "STELLARFLOW_EGRESS_ALLOW": "127.0.0.1"})
        reset_settings()
        analysis = (await api.post("/api/v2/github/repos/analyze", {
            "repository": "octo/hist", "analysisType": ["code-quality", "security", "performance"]},
            expect=202))["data"]["analysisId"]

        async def analysed() -> dict[str, Any]:
            return (await api.get(f"/api/v2/github/analysis/{analysis}"))["data"]

        done = await eventually(analysed, lambda a: a["status"] in ("completed", "failed"), "the analysis",
                                interval=0.3)
        if done["status"] != "completed":
            raise RuntimeError(f"the analysis did not complete: {done}")
        await rec.save("github-analysis", analysis)
        enhanced = (await api.post("/api/v2/github/pr/1/enhance?wait=true&timeout=60", {
            "repository": "octo/hist", "enhancements": {"securityReview": True, "addTests": True}},
            expect=200))["data"]
        if enhanced["enhancements"]["security"]["status"] != "done":
            raise RuntimeError(f"the PR review did not complete: {enhanced}")
        await rec.save("github-pr", enhanced["enhancementId"])
        block = ("```python path=tests/test_app.py\nfrom app import run\n\n\ndef test_run():\n"
                 "    assert run('true') == 0\n```\n")
        with FakeOpenAIServer(block) as llm:
            os.environ.update({"STELLARFLOW_LLM_BASE_URL": llm.base_url + "/v1", "STELLARFLOW_LLM_MODEL": "fake"})
            reset_settings()
            before = app.state.settings
            app.state.settings = before.model_copy(update={"llm_base_url": llm.base_url + "/v1",
                                                           "llm_model": "fake"})
            try:
                agent = (await api.post("/api/v2/github/pr/1/enhance?wait=true&timeout=100", {
                    "repository": "octo/hist", "enhancements": {"addTests": True}}, expect=200))["data"]
            finally:
                app.state.settings = before
                for name in ("STELLARFLOW_LLM_BASE_URL", "STELLARFLOW_LLM_MODEL"):
                    os.environ.pop(name, None)
                reset_settings()
        if agent["enhancements"]["tests"]["status"] != "done" or not agent["preview"]:
            raise RuntimeError(f"the PR's agent-driven tests did not complete: {agent}")
        await rec.save("github-pr-agent", agent["enhancementId"])


async def system(api: Api, rec: HistoryWriter, client: Client, task_queue: str) -> None:
    """A host sample (as the metrics Schedule starts it) and a diagnostic bundle requested through the API."""
    workflow_id = f"metrics-sample-history-{int(time.time())}"
    sample = await client.execute_workflow("MetricsSampleWorkflow", id=workflow_id, task_queue=task_queue,
                                           result_type=dict)
    if "cpu" not in sample:
        raise RuntimeError(f"the sample measured nothing: {sample!r}")
    await rec.save("metrics-sample", workflow_id)
    report = await api.post("/api/system/diagnostics", {"include": ["versions", "config"], "compress": True},
                            expect=202)
    result = await client.get_workflow_handle(report["report_id"]).result()
    if result.get("status") != "ready":
        raise RuntimeError(f"the diagnostic bundle was not built: {result!r}")
    await rec.save("diagnostics", report["report_id"])


async def orchestrations(api: Api, rec: HistoryWriter) -> None:
    """An adaptive orchestration (a slot failing once and passing on its retry, files handed to the next phase,
    agents spawned and released), and a cancelled one."""

    async def orchestrate(strategy: str, phases: list[dict[str, Any]]) -> str:
        body = {"task": "history", "strategy": strategy, "agentConfig": SHELL, "requirements": {"phases": phases}}
        return (await api.post("/api/v2/tasks/orchestrate", body, expect=202))["data"]["orchestrationId"]

    async def orchestration(orchestration_id: str) -> dict[str, Any]:
        return (await api.get(f"/api/v2/orchestrations/{orchestration_id}"))["data"]

    ended = ("completed", "failed", "cancelled")
    adaptive = await orchestrate("adaptive", [
        {"name": "make", "agents": ["coder", "tester"], "duration": 120, "tasks": [
            {"requirements": {"command": "echo made > made.txt"}},
            # fails on the first (parallel) attempt; its retry sees the coder's completed result in the context
            {"requirements": {"command": "grep -q made.txt .stellarflow/orchestration.json"}}]},
        {"name": "use", "agents": ["devops"], "requirements": {"command": "cat made.txt"}},
    ])
    done = await eventually(lambda: orchestration(adaptive), lambda o: o["status"] in ended, "the orchestration")
    assert done["status"] == "completed", done
    await rec.save("orchestration-adaptive", adaptive)

    cancelled = await orchestrate("parallel", [{"name": "wait", "agents": ["devops"],
                                                "requirements": {"command": "sleep 30"}}])
    await eventually(lambda: orchestration(cancelled), lambda o: o["phases"][0]["tasks"][0]["status"] == "running",
                     "the orchestration's task running")
    await api.post(f"/api/v2/orchestrations/{cancelled}/cancel", expect=200)
    await rec.save("orchestration-cancelled", cancelled)


async def neural(api: Api, rec: HistoryWriter, client: Client) -> None:
    """A training that completes (with progress signals and a model version), one that fails (too few samples:
    the activity's non-retryable error) and one cancelled mid-training."""
    rows = [{"input": {"x": x / 10, "kind": "a" if x % 2 else "b"}, "output": {"label": "hi" if x > 10 else "lo"}}
            for x in range(20)]
    body = {"patternType": "history", "trainingData": {"samples": rows, "validationSplit": 0.25},
            "configuration": {"epochs": 5, "learningRate": 0.01, "batchSize": 8}}
    trained = (await api.post("/api/v2/neural/train", body, expect=202))["data"]["trainingId"]
    failing = (await api.post("/api/v2/neural/train", {**body, "trainingData": {"samples": rows[9:12]}},
                              expect=202))["data"]["trainingId"]
    long = {**body, "configuration": {"epochs": 1000, "learningRate": 0.01, "batchSize": 8}}
    cancelled = (await api.post("/api/v2/neural/train", long, expect=202))["data"]["trainingId"]
    await eventually(lambda: api.get(f"/api/v2/neural/training/{cancelled}"),
                     lambda b: b["data"]["currentEpoch"] >= 1, "the long training's first epoch")
    await client.get_workflow_handle(cancelled).cancel()
    for training_id in (trained, failing, cancelled):
        await eventually(lambda t=training_id: api.get(f"/api/v2/neural/training/{t}"),
                         lambda b: b["data"]["status"] != "training", "the training to end")
    await rec.save("training-completed", trained)
    await rec.save("training-failed", failing)
    await rec.save("training-cancelled", cancelled)


SCENARIOS = ("pipelines", "automation", "agent_and_tasks", "swarm", "swarm_continue_as_new", "memory_sweep",
             "reconcile", "system", "orchestrations", "neural", "github")


# ---- the run ----------------------------------------------------------------------------------------------------


async def main(only: list[str]) -> None:
    """Every scenario (then the recorded histories are replaced), or only those named (their histories are added or
    replaced, the rest kept): `python -m tests.histories.record reconcile`."""
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s) {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    chosen = set(only or SCENARIOS)
    began = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="stellarflow-histories-"))
    (scratch / "definitions").mkdir()
    # Settings are read from the environment, so pin them before anything builds them.
    os.environ["STELLARFLOW_DATA_DIR"] = str(scratch / "data")
    os.environ["STELLARFLOW_DEFINITIONS_DIR"] = str(scratch / "definitions")
    os.environ["STELLARFLOW_HEARTBEAT_TIMEOUT_S"] = "3"
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "REDIS_URL"):
        os.environ.pop(name, None)

    from core.settings import get_settings, reset_settings
    from core.temporal import DEV_SERVER_TUNING, SEARCH_ATTRIBUTE_KEYS, temporal_binary

    reset_settings()
    settings = get_settings()

    from api.main import create_app
    from core.auth.sessions import start_session
    from core.auth.users import create_user
    from worker import build_worker

    staging = scratch / "histories"
    staging.mkdir()
    # Expected failures (the failing pipeline steps) would each print a traceback.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_extra_args=DEV_SERVER_TUNING,
    )
    try:
        client = env.client
        worker = build_worker(client, settings)
        worker_task = asyncio.create_task(worker.run())
        try:
            app = create_app(settings, client=client)
            async with app.router.lifespan_context(app):
                admin = create_user("history-admin", "SecureP@ssw0rd!", email="history-admin@example.com",
                                    role="admin", tier="enterprise")
                token = start_session(settings, admin).access_token
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60,
                                             headers={"Authorization": f"Bearer {token}"}) as http:
                    api = Api(http)
                    rec = HistoryWriter(client, staging)
                    if "pipelines" in chosen:
                        await pipelines(api, rec)
                    if "automation" in chosen:
                        await automation(api, rec, client, scratch)
                    if "agent_and_tasks" in chosen:
                        await agent_and_tasks(api, rec)
                    if "swarm" in chosen:
                        await swarm(api, rec, client)
                    if "swarm_continue_as_new" in chosen:
                        await swarm_continue_as_new(api, rec, client, settings.task_queue)
                    if "memory_sweep" in chosen:
                        await memory_sweep(api, rec, client, settings.task_queue)
                    if "reconcile" in chosen:
                        await reconcile(api, rec, client, settings.task_queue)
                    if "system" in chosen:
                        await system(api, rec, client, settings.task_queue)
                    if "orchestrations" in chosen:
                        await orchestrations(api, rec)
                    if "neural" in chosen:
                        await neural(api, rec, client)
                    if "github" in chosen:  # last: it points the settings at its fake GitHub
                        await github(api, rec, scratch, app)
        finally:
            await worker.shutdown()
            await asyncio.gather(worker_task, return_exceptions=True)
        # Every scenario ended and every history is written: only now replace the recorded ones.
        for stale in HERE.glob("*.json") if not only else ():
            stale.unlink()
        for fresh in sorted(staging.glob("*.json")):
            shutil.move(fresh, HERE / fresh.name)
    finally:
        await env.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)

    total = sum(size for *_, size in rec.written)
    print(f"{len(rec.written)} histories, {total:,} bytes, in {time.monotonic() - began:.1f} s", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
    # Short-lived Temporal client processes sometimes abort at interpreter exit (sdk-python issue 300); the
    # work is done and written, so leave without the interpreter's teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
