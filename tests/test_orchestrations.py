"""Orchestrations (`POST /api/v2/tasks/orchestrate`, `GET /api/v2/orchestrations/{id}`, cancel): three phases on
shell agents with results handed between phases, a cancel cascading to the child tasks and spawned agents,
capabilities no agent type offers refused with a 400 naming them, 404s, and the ownership rules. Plus the pure
planning decisions (slots matched to swarm agents, estimates), table-driven."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from temporalio.client import Client, WorkflowExecutionStatus

from core.db import get_engine
from core.orchestrations import planning
from core.orchestrations.models import OrchestrationStrategy, PhaseSpec, SlotPlan
from core.reconcile.service import reconcile
from tests.support import client_for, new_user, poll, settings_changed, token_for
from tests.swarm_support import eventually, new_swarm

SHELL = {"executor": "shell"}


def _phase(name: str, *commands: tuple[str, str], duration: float | None = 120) -> dict:
    """A phase whose slots are (agent type, shell command) pairs."""
    return {"name": name, "agents": [t for t, _ in commands], "duration": duration,
            "tasks": [{"requirements": {"command": c}} for _, c in commands]}


async def _orchestrate(api: httpx.AsyncClient, body: dict, expect: int = 202) -> dict:
    response = await api.post("/api/v2/tasks/orchestrate", json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def _visible(client: Client, workflow_id: str) -> None:
    """Until Temporal's visibility lists the workflow (it lags about a second)."""
    for _ in range(100):
        if [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} not visible in Temporal")


async def _ended(api: httpx.AsyncClient, orchestration_id: str, timeout: float = 60) -> dict:
    body = await poll(api, f"/api/v2/orchestrations/{orchestration_id}",
                      lambda b: b["data"]["status"] in ("completed", "failed", "cancelled"), timeout=timeout)
    return body["data"]


async def test_three_phases_hand_their_results_on(api: httpx.AsyncClient, temporal_client: Client) -> None:
    token = uuid.uuid4().hex[:8]  # commands unique to this run: no similar finished task, so the estimate is declared
    swarm = await new_swarm(temporal_client, topology="mesh", agents=[{"type": "tester", "count": 1}])
    swarm_tester = swarm.agents[0].id
    body = {
        "task": f"Build a tiny service {token}", "strategy": "parallel", "swarmId": swarm.spec.id,
        "agentConfig": SHELL,
        "requirements": {
            "phases": [
                _phase("architecture", ("architect", f"echo design-{token} > design.txt")),
                _phase("implementation",
                       ("coder", f"echo built-from-$(cat design.txt) > build.txt # {token}"),
                       ("tester", f"grep -q design-{token} design.txt && echo tested > test.txt")),
                _phase("deployment",
                       ("devops", f"cat build.txt test.txt && grep -q '\"phase\": \"implementation\"' "
                                  f".stellarflow/orchestration.json # {token}")),
            ],
            "constraints": {"maxDuration": 600, "requiredCapabilities": ["api-design", "testing"]},
        },
    }
    accepted = await _orchestrate(api, body)
    data = accepted["data"]
    orchestration_id = data["orchestrationId"]
    assert orchestration_id.startswith("orch-")
    assert accepted["links"]["status"] == f"/api/v2/orchestrations/{orchestration_id}"
    assert accepted["links"]["websocket"].endswith(f"/v2/ws/orchestrations/{orchestration_id}")
    assert [p["name"] for p in data["phases"]] == ["architecture", "implementation", "deployment"]
    assert data["phases"][0]["phaseId"] == "ph-1" and data["phases"][0]["status"] == "pending"
    # the swarm's tester takes the tester slot; the other types are spawned for the orchestration
    implementation = data["phases"][1]["assignedAgents"]
    assert implementation[1] == {"agentId": swarm_tester, "agentType": "tester", "spawned": False}
    assert implementation[0]["spawned"] is True
    # declared durations 120 s each, no similar finished task: 360 s after creation, and it says so
    assert data["estimateSource"] == "declared"
    estimated = datetime.fromisoformat(data["estimatedCompletion"].replace("Z", "+00:00"))
    assert 300 < (estimated - datetime.now(UTC)).total_seconds() <= 360

    done = await _ended(api, orchestration_id)
    assert done["status"] == "completed", done
    assert [p["status"] for p in done["phases"]] == ["completed"] * 3
    assert done["progress"] == 1.0
    deploy = done["phases"][2]["tasks"][0]
    assert f"built-from-design-{token}" in deploy["output"] and "tested" in deploy["output"]
    assert done["phases"][1]["tasks"][0]["filesCreated"] == ["build.txt"]
    assert done["timeline"]["startedAt"] and done["timeline"]["completedAt"]
    # agents spawned for it are released (terminated); the swarm's agent is not
    spawned = done["agents"]["spawned"]
    assert len(spawned) == 3 and sorted(done["agents"]["released"]) == sorted(spawned)
    for agent_id in spawned:
        described = await temporal_client.get_workflow_handle(agent_id).describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED
        assert described.parent_id == orchestration_id
    swarm_agent = (await api.get(f"/api/v2/agents/{swarm_tester}")).json()["data"]
    assert swarm_agent["attributes"]["status"] != "terminated"
    # the orchestration is a Temporal workflow with our search attributes
    described = await temporal_client.get_workflow_handle(orchestration_id).describe()
    assert described.workflow_type == "OrchestrationWorkflow"
    assert described.typed_search_attributes is not None
    assert any(pair.value == "completed" for pair in described.typed_search_attributes)

    # the same slots again: every one now has a measured similar task, so the estimate comes from history
    again = (await _orchestrate(api, body))["data"]
    assert again["estimateSource"] == "history"
    estimated = datetime.fromisoformat(again["estimatedCompletion"].replace("Z", "+00:00"))
    assert (estimated - datetime.now(UTC)).total_seconds() < 60  # the measured seconds, not the declared 360
    assert (await _ended(api, again["orchestrationId"]))["status"] == "completed"


async def test_cancel_cascades_to_every_child(app: FastAPI, temporal_client: Client) -> None:
    owner = client_for(app, token_for("developer"))
    stranger = client_for(app, token_for(user=new_user("developer")))
    # A running activity hears of a cancel with its next heartbeat, throttled to 80 % of the heartbeat timeout: the
    # agents spawned here get a short one, so the cancel lands in about 2 s rather than 24.
    with settings_changed(app, heartbeat_timeout_s=2):
        await _cancel_cascades(owner, stranger, temporal_client)


async def _cancel_cascades(owner: httpx.AsyncClient, stranger: httpx.AsyncClient, temporal_client: Client) -> None:
    async with owner, stranger:
        body = {"task": "wait", "strategy": "parallel", "agentConfig": SHELL, "requirements": {"phases": [
            _phase("long", ("devops", "sleep 30"), ("tester", "sleep 30")),
            _phase("never", ("devops", "true")),
        ]}}
        orchestration_id = (await _orchestrate(owner, body))["data"]["orchestrationId"]
        running = await poll(owner, f"/api/v2/orchestrations/{orchestration_id}",
                             lambda b: all(t["status"] == "running" for t in b["data"]["phases"][0]["tasks"]))
        task_ids = [t["taskId"] for t in running["data"]["phases"][0]["tasks"]]

        # reads follow the task rules: a stranger sees the shape, not the outputs; only the owner may cancel
        seen = await stranger.get(f"/api/v2/orchestrations/{orchestration_id}")
        assert seen.status_code == 200 and "tasks.output" in seen.json()["meta"]["redacted"]
        refused = await stranger.post(f"/api/v2/orchestrations/{orchestration_id}/cancel")
        assert refused.status_code == 403, refused.text

        cancelled = await owner.post(f"/api/v2/orchestrations/{orchestration_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        data = cancelled.json()["data"]
        assert data["status"] == "cancelled" and data["timeline"]["cancelledAt"]
        assert [p["status"] for p in data["phases"]] == ["cancelled", "skipped"]
        for task_id in task_ids:
            child = await temporal_client.get_workflow_handle(task_id).describe()
            assert child.parent_id == orchestration_id
            assert child.status != WorkflowExecutionStatus.RUNNING
            task = (await owner.get(f"/api/v2/tasks/{task_id}")).json()["data"]["attributes"]
            assert task["status"] == "cancelled"
        for agent_id in data["agents"]["spawned"]:
            agent = await temporal_client.get_workflow_handle(agent_id).describe()
            assert agent.status != WorkflowExecutionStatus.RUNNING
        again = await owner.post(f"/api/v2/orchestrations/{orchestration_id}/cancel")
        assert again.status_code == 409


async def test_unknown_capabilities_and_ids(api: httpx.AsyncClient) -> None:
    body = {"task": "x", "agentConfig": SHELL, "requirements": {
        "phases": [_phase("one", ("coder", "true"))],
        "constraints": {"requiredCapabilities": ["nodejs", "testing", "quantum-telepathy"]}}}
    refused = await _orchestrate(api, body, expect=400)
    assert refused["error"]["code"] == "VALIDATION_ERROR"
    detail = refused["error"]["details"][0]
    assert detail["field"] == "requirements.constraints.requiredCapabilities"
    assert detail["value"] == ["nodejs", "quantum-telepathy"]
    assert "nodejs" in refused["error"]["message"] and "testing" not in detail["value"]
    for unknown in ("orch-01J00000000000000000000000", "tk-01J00000000000000000000000", "nope"):
        response = await api.get(f"/api/v2/orchestrations/{unknown}")
        assert response.status_code == 404, response.text


def test_planning_matches_swarm_agents_and_estimates() -> None:
    """Pure: slots take the swarm's agents of their type that have the capabilities they need, distinct within a
    phase, else spawned agents reused across phases; estimates come from measurements where every slot has one."""
    agents, tasks = iter(range(100)), iter(range(100))
    offered = {"coder": ["code_generation", "api-design"], "tester": ["testing"]}
    phases = [PhaseSpec(name="a", agents=["coder", "coder", "tester"]), PhaseSpec(name="b", agents=["coder"])]
    candidates = [planning.Candidate(id="ag-old", type="coder", capabilities=["code_generation"]),
                  planning.Candidate(id="ag-fit", type="coder", capabilities=["code_generation", "api-design"])]
    plan = planning.assign(phases, candidates, ["api-design"], offered, {"coder": "shell"},
                           lambda: f"ag-new{next(agents)}", lambda: f"tk-{next(tasks)}", "t")
    assert [(s.agent_id, s.spawn) for s in plan[0]] == [("ag-fit", False), ("ag-new0", True), ("ag-new1", True)]
    assert [(s.agent_id, s.spawn) for s in plan[1]] == [("ag-fit", False)]
    assert planning.unknown_capabilities(["testing", "x"], offered) == ["x"]

    def slots(*estimates: float | None) -> list[SlotPlan]:
        return [SlotPlan(agent_type="coder", agent_id="a", task_id="t", retry_task_id="r", estimated_s=e)
                for e in estimates]

    assert planning.phase_estimate(slots(2, 3), OrchestrationStrategy.parallel, 60) == (3, "history")
    assert planning.phase_estimate(slots(2, 3), OrchestrationStrategy.sequential, 60) == (5, "history")
    assert planning.phase_estimate(slots(2, None), OrchestrationStrategy.parallel, 60) == (60, "declared")
    assert planning.phase_estimate(slots(None), OrchestrationStrategy.parallel, None) == (None, "none")
    assert planning.total_estimate([(3, "history"), (60, "declared")], None) == (63, "mixed")
    assert planning.total_estimate([(3, "history"), (60, "declared")], 10) == (10, "mixed")
    assert planning.total_estimate([(3, "history"), (None, "none")], None) == (None, "none")


async def test_a_failed_task_fails_its_phase_and_skips_the_rest(app: FastAPI, api: httpx.AsyncClient,
                                                                temporal_client: Client) -> None:
    body = {"task": "fail", "agentConfig": SHELL, "requirements": {"phases": [
        _phase("broken", ("devops", "echo half-done; exit 3"), ("tester", "true")),
        _phase("after", ("devops", "true")),
    ]}}
    orchestration_id = (await _orchestrate(api, body))["data"]["orchestrationId"]
    done = await _ended(api, orchestration_id)
    assert done["status"] == "failed"
    assert [p["status"] for p in done["phases"]] == ["failed", "skipped"]
    failed = done["phases"][0]["tasks"][0]
    assert failed["status"] == "failed" and "half-done" in failed["output"]
    assert failed["taskId"] in done["error"] and "1 of 2 tasks" in done["error"]
    assert done["phases"][1]["tasks"][0]["attempts"] == []  # never started
    assert sorted(done["agents"]["released"]) == sorted(done["agents"]["spawned"])
    # someone it is not shared with learns that it failed, not the task's own error or output
    async with client_for(app, token_for("developer")) as stranger:
        seen = (await stranger.get(f"/api/v2/orchestrations/{orchestration_id}")).json()
    assert seen["data"]["error"] == "phase 'broken' failed: 1 of 2 tasks did not complete"
    assert seen["data"]["phases"][0]["tasks"][0]["output"] is None
    assert seen["meta"]["redacted"] == ["tasks.output", "tasks.error"]

    # a lost projection row is rebuilt from the workflow by reconciliation
    await _visible(temporal_client, orchestration_id)
    with get_engine().begin() as connection:
        connection.execute(text("DELETE FROM orchestrations WHERE id = :id"), {"id": orchestration_id})
    report = await reconcile(temporal_client, kinds=["orchestration"], only=[orchestration_id])
    assert [(f.action, f.after) for f in report.fixes] == [("rebuilt", "failed")], report
    assert (await api.get(f"/api/v2/orchestrations/{orchestration_id}")).json()["data"]["error"] == done["error"]


async def test_a_cancel_from_temporal_stops_the_tasks_too(app: FastAPI, api: httpx.AsyncClient,
                                                           temporal_client: Client) -> None:
    """Cancelled in the Temporal UI or CLI rather than through the API: the agents still stop the tasks, the
    spawned agents are released, and the workflow ends as Canceled."""
    with settings_changed(app, heartbeat_timeout_s=2):
        body = {"task": "wait", "agentConfig": SHELL,
                "requirements": {"phases": [_phase("long", ("devops", "sleep 30"))]}}
        orchestration_id = (await _orchestrate(api, body))["data"]["orchestrationId"]
        running = await poll(api, f"/api/v2/orchestrations/{orchestration_id}",
                             lambda b: b["data"]["phases"][0]["tasks"][0]["status"] == "running")
    task_id = running["data"]["phases"][0]["tasks"][0]["taskId"]
    handle = temporal_client.get_workflow_handle(orchestration_id)
    await handle.cancel()
    done = await _ended(api, orchestration_id)
    assert done["status"] == "cancelled" and done["phases"][0]["status"] == "cancelled"
    # the final record is written just before the workflow closes: Temporal may say RUNNING a moment longer
    closed = await eventually(handle.describe, lambda d: d.status != WorkflowExecutionStatus.RUNNING,
                              "the orchestration's workflow to close")
    assert closed.status == WorkflowExecutionStatus.CANCELED
    task = await poll(api, f"/api/v2/tasks/{task_id}", lambda b: b["data"]["attributes"]["status"] == "cancelled")
    assert task["data"]["attributes"]["cancelledAt"]
    assert sorted(done["agents"]["released"]) == sorted(done["agents"]["spawned"])
