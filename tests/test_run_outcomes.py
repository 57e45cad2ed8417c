"""Failed runs fail in Temporal; runs carry the Temporal UI's summary and details and are findable by definition;
re-runs skip the steps that succeeded; sub-workflows; concurrency groups. Driven through the public API against the
real dev server and worker."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from core.settings import get_settings
from core.temporal import temporal_binary
from tests.support import cmd, run_to_end, start, step_of, wait_for_run, wait_for_step


def _counting(step: str, extra: str = "") -> str:
    """A command that appends its step's name to `count` in the run's workspace (counting executions), then runs
    `extra`. A re-run starts from a copy of the original's workspace, so the file carries every earlier count."""
    return f'echo {step} >> count{"; " + extra if extra else ""}'


def _workspace(run: dict) -> Path:
    """Where a run's sandboxed commands can write, so where the tests' marker files are."""
    return get_settings().workspaces_dir / run["id"]


def _count(run: dict, step: str) -> int:
    marker = _workspace(run) / "count"
    return marker.read_text().split().count(step) if marker.exists() else 0


async def test_a_failed_run_shows_failed_in_temporal(api: httpx.AsyncClient, temporal_client: Client,
                                                     temporal_env) -> None:
    created = await api.post("/api/v2/workflows", json={"name": "fails", "steps": [cmd("boom", "exit 4")]})
    workflow_id = created.json()["data"]["id"]
    started = await api.post(f"/api/v2/workflows/{workflow_id}/runs", json={})
    run_id = started.json()["data"]["id"]
    run = await wait_for_run(api, run_id)
    assert run["status"] == "failed" and "boom" in run["error"]
    described = await temporal_client.get_workflow_handle(run_id).describe()
    assert described.status == WorkflowExecutionStatus.FAILED
    # what `temporal workflow describe` prints, run as a user would
    target = temporal_env.client.service_client.config.target_host
    out = await asyncio.to_thread(subprocess.run, [temporal_binary(), "workflow", "describe", "--address", target,
                                                   "-w", run_id, "-o", "json"], capture_output=True, text=True,
                                  timeout=30)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert "FAILED" in json.dumps(info["workflowExecutionInfo"]["status"]).upper()
    # user metadata (the UI's summary and details) and the definition's search attribute
    assert workflow_id in (await described.static_summary() or "")
    assert "trigger: api" in (await described.static_details() or "")
    await asyncio.sleep(1.5)  # visibility catches up
    found = [w.id async for w in temporal_client.list_workflows(
        f"StellarflowDefinition='{workflow_id}' AND ExecutionStatus='Failed'")]
    assert run_id in found


async def test_a_cancelled_run_shows_cancelled_and_a_good_one_completed(api: httpx.AsyncClient,
                                                                        temporal_client: Client) -> None:
    good = await run_to_end(api, {"name": "fine", "steps": [cmd("ok", "true")]})
    assert (await temporal_client.get_workflow_handle(good["id"]).describe()).status == \
        WorkflowExecutionStatus.COMPLETED
    run_id = await start(api, {"name": "long", "steps": [cmd("sleep", "sleep 30")]})
    await wait_for_step(api, run_id, "sleep", lambda s: s["status"] == "running")
    await api.post(f"/api/v2/runs/{run_id}/cancel")
    run = await wait_for_run(api, run_id)
    assert run["status"] == "cancelled"
    assert (await temporal_client.get_workflow_handle(run_id).describe()).status == \
        WorkflowExecutionStatus.CANCELED


async def test_rerun_failed_only_skips_the_succeeded_steps(api: httpx.AsyncClient) -> None:
    definition = {"name": "rerun", "steps": [
        cmd("build", _counting("build", 'echo built > out.txt; echo "version=1.2" >> "$STELLARFLOW_OUTPUT"')),
        cmd("lint", _counting("lint")),
        cmd("test", _counting("test", "cat out.txt && test -f fixed && echo tested >> out.txt"), dependsOn=["build"]),
        cmd("ship", _counting("ship", 'echo "{{ steps.build.outputs.version }}"'), dependsOn=["test"]),
    ]}
    first = await run_to_end(api, definition)
    assert first["status"] == "failed"
    assert step_of(first, "ship")["status"] == "skipped"
    (_workspace(first) / "fixed").write_text("yes")  # the fix, in the workspace the re-run starts from
    response = await api.post(f"/api/v2/runs/{first['id']}/rerun", json={"failedOnly": True})
    assert response.status_code == 202, response.text
    second = await wait_for_run(api, response.json()["data"]["id"])
    assert second["status"] == "succeeded", second
    assert second["rerunOf"] == first["id"]
    assert _count(second, "build") == 1 and _count(second, "lint") == 1  # not executed again
    assert _count(second, "test") == 2 and _count(second, "ship") == 1
    assert "tested" in (_workspace(second) / "out.txt").read_text()  # the copied files are the re-run's to change
    assert step_of(second, "build")["reusedFrom"] == first["id"]
    assert step_of(second, "build")["outputs"]["version"] == "1.2"
    assert step_of(second, "ship")["outputs"]["stdout"].strip() == "1.2"
    assert "reusedFrom" not in step_of(second, "test")
    original = (await api.get(f"/api/v2/runs/{first['id']}")).json()["data"]
    assert original["reruns"] == [second["id"]]

    # from a step: that step and what follows run again, the rest is reused
    third = await api.post(f"/api/v2/runs/{second['id']}/rerun", json={"fromStep": "test"})
    done = await wait_for_run(api, third.json()["data"]["id"])
    assert done["status"] == "succeeded"
    assert _count(done, "build") == 1 and _count(done, "test") == 3 and _count(done, "ship") == 2
    assert step_of(done, "build")["reusedFrom"] == first["id"]  # still the run that really executed it


async def test_rerun_needs_a_finished_run_and_a_choice(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {"name": "r", "steps": [cmd("a", "true")]})
    assert (await api.post(f"/api/v2/runs/{run['id']}/rerun", json={})).status_code == 400
    bad = await api.post(f"/api/v2/runs/{run['id']}/rerun", json={"fromStep": "nope"})
    assert bad.status_code == 400 and "nope" in bad.text
    running = await start(api, {"name": "r2", "steps": [cmd("s", "sleep 5")]})
    assert (await api.post(f"/api/v2/runs/{running}/rerun", json={"failedOnly": True})).status_code == 409
    await api.post(f"/api/v2/runs/{running}/cancel")


async def test_a_sub_workflow_outputs_and_failure_propagate(api: httpx.AsyncClient, temporal_client: Client) -> None:
    child = await api.put("/api/v2/workflows/child-echo", json={
        "name": "child", "inputs": {"word": {"type": "string", "required": True}},
        "steps": [cmd("say", 'echo "said={{ inputs.word }}" >> "$STELLARFLOW_OUTPUT"'),
                  cmd("check", '[ "{{ inputs.word }}" != "fail" ]', dependsOn=["say"])]})
    assert child.status_code == 200, child.text
    parent = await run_to_end(api, {"name": "parent", "steps": [
        {"id": "sub", "action": "run-workflow", "parameters": {"workflow": "child-echo", "inputs": {"word": "hi"}}},
        cmd("use", 'echo "got {{ steps.sub.outputs.steps.say.said }}"', dependsOn=["sub"]),
    ]})
    assert parent["status"] == "succeeded", parent
    sub = step_of(parent, "sub")
    assert step_of(parent, "use")["outputs"]["stdout"].strip() == "got hi"
    child_run = (await api.get(f"/api/v2/runs/{sub['childRunId']}")).json()["data"]
    assert child_run["parentRunId"] == parent["id"] and child_run["status"] == "succeeded"
    described = await temporal_client.get_workflow_handle(sub["childRunId"]).describe()
    assert described.parent_id == parent["id"]  # the Temporal UI's parent/child link

    failing = await run_to_end(api, {"name": "parent fails", "steps": [
        {"id": "sub", "action": "run-workflow", "parameters": {"workflow": "child-echo", "inputs": {"word": "fail"}}},
    ]})
    assert failing["status"] == "failed"
    assert "failed" in step_of(failing, "sub")["error"]
    assert step_of(failing, "sub")["outputs"]["steps"]["say"]["said"] == "fail"


async def test_cancelling_a_parent_cancels_its_sub_workflow(api: httpx.AsyncClient) -> None:
    await api.put("/api/v2/workflows/child-sleep", json={"name": "sleeper", "steps": [cmd("zz", "sleep 30")]})
    run_id = await start(api, {"name": "parent", "steps": [
        {"id": "sub", "action": "run-workflow", "parameters": {"workflow": "child-sleep"}}]})
    sub = await wait_for_step(api, run_id, "sub", lambda s: bool(s.get("childRunId")))
    await wait_for_step(api, sub["childRunId"], "zz", lambda s: s["status"] == "running")
    await api.post(f"/api/v2/runs/{run_id}/cancel")
    assert (await wait_for_run(api, run_id))["status"] == "cancelled"
    assert (await wait_for_run(api, sub["childRunId"]))["status"] == "cancelled"


async def test_sub_workflow_recursion_is_limited(api: httpx.AsyncClient) -> None:
    response = await api.put("/api/v2/workflows/recurse", json={"name": "recurse", "steps": [
        {"id": "again", "action": "run-workflow", "parameters": {"workflow": "recurse"}}]})
    assert response.status_code == 200
    started = await api.post("/api/v2/workflows/recurse/runs", json={})
    run = await wait_for_run(api, started.json()["data"]["id"], timeout=60)
    assert run["status"] == "failed"
    # the innermost level refused to go deeper
    depth, current = 0, run
    while step_of(current, "again").get("childRunId"):
        current = await wait_for_run(api, step_of(current, "again")["childRunId"])
        depth += 1
    assert depth == 5 and "nest at most 5" in step_of(current, "again")["error"]


@pytest.mark.parametrize("level", ["workflow", "step"])
async def test_runs_in_one_concurrency_group_never_overlap(api: httpx.AsyncClient, level: str) -> None:
    step = cmd("deploy", 'echo "start $(date +%s.%N)" >> spans; sleep 0.4; echo "end $(date +%s.%N)" >> spans')
    group = {"group": "deploy-{{ inputs.env }}"}
    definition = {"name": f"grouped {level}", "inputs": {"env": {"type": "string", "default": "prod"}},
                  "steps": [cmd("prepare", "true"), {**step, "dependsOn": ["prepare"]}]}
    if level == "workflow":
        definition["concurrency"] = group
    else:
        definition["steps"][1]["concurrency"] = group
    ids = [await start(api, definition) for _ in range(3)]
    queued = await asyncio.gather(*(wait_for_run(api, i, timeout=60) for i in ids))
    assert all(r["status"] == "succeeded" for r in queued), queued
    spans = [line for run in queued for line in (_workspace(run) / "spans").read_text().split("\n")]
    events = [(float(line.split()[1]), line.split()[0]) for line in spans if line]
    events.sort()
    depth = 0
    for _, kind in events:
        depth += 1 if kind == "start" else -1
        assert depth <= 1, events  # never two at once
    assert len(events) == 6


async def test_queue_position_is_visible_and_cancel_in_progress_supersedes(api: httpx.AsyncClient) -> None:
    hold = {"name": "holder", "concurrency": {"group": "exclusive"}, "steps": [cmd("hold", "sleep 30")]}
    first = await start(api, hold)
    await wait_for_step(api, first, "hold", lambda s: s["status"] == "running")
    second = await start(api, hold)

    async def queued() -> dict:
        for _ in range(200):
            body = (await api.get(f"/api/v2/runs/{second}")).json()["data"]
            if (body.get("concurrency") or {}).get("position") == 1:
                return body
            await asyncio.sleep(0.05)
        raise AssertionError(body)

    waiting = await queued()
    assert waiting["status"] == "pending" and waiting["concurrency"]["group"] == "exclusive"
    newest = await start(api, {**hold, "concurrency": {"group": "exclusive", "cancelInProgress": True},
                               "steps": [cmd("quick", "true")]})
    assert (await wait_for_run(api, first))["status"] == "cancelled"
    assert (await wait_for_run(api, second))["status"] == "cancelled"
    assert (await wait_for_run(api, newest))["status"] == "succeeded"




async def test_a_step_level_group_supersedes_the_step_in_progress(api: httpx.AsyncClient) -> None:
    definition = {"name": "step group", "steps": [
        {**cmd("deploy", "sleep 30"), "concurrency": {"group": "step-exclusive", "cancelInProgress": True}},
        cmd("after", "true", dependsOn=["deploy"])]}
    first = await start(api, definition)
    await wait_for_step(api, first, "deploy", lambda s: (s.get("concurrency") or {}).get("state") == "holding")
    second = await start(api, {**definition, "steps": [
        {**cmd("deploy", "true"), "concurrency": {"group": "step-exclusive", "cancelInProgress": True}}]})
    superseded = await wait_for_run(api, first)
    assert superseded["status"] == "cancelled"
    assert step_of(superseded, "deploy")["status"] == "cancelled"
    assert "superseded" in step_of(superseded, "deploy")["reason"]
    assert step_of(superseded, "after")["status"] == "skipped"
    assert (await wait_for_run(api, second))["status"] == "succeeded"
