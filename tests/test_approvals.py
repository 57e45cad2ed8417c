"""Approval gates: the run blocks until a person decides through the API (a Temporal Update)."""

from __future__ import annotations

import httpx

from tests.support import cmd, start, step_of, wait_for_run, wait_for_step

GATED = {
    "name": "gated release",
    "steps": [
        cmd("build", "echo built"),
        {"id": "gate", "action": "approval", "dependsOn": ["build"], "parameters": {"message": "Ship it?"}},
        cmd("ship", "echo shipped", dependsOn=["gate"]),
    ],
}


def _waiting(step: dict) -> bool:
    return (step.get("approval") or {}).get("status") == "waiting"


async def test_approve_lets_the_run_continue(api: httpx.AsyncClient) -> None:
    run_id = await start(api, GATED)
    gate = await wait_for_step(api, run_id, "gate", _waiting)
    assert gate["status"] == "running"
    assert gate["approval"]["message"] == "Ship it?"
    assert step_of((await api.get(f"/api/v2/runs/{run_id}")).json()["data"], "ship")["status"] == "pending"

    decided = await api.post(f"/api/v2/runs/{run_id}/steps/gate/approve", json={"comment": "LGTM"})
    assert decided.status_code == 200, decided.text
    step = decided.json()["data"]
    assert step["status"] == "succeeded"
    assert step["approval"]["status"] == "approved"
    assert step["approval"]["comment"] == "LGTM"

    run = await wait_for_run(api, run_id)
    assert run["status"] == "succeeded"
    assert step_of(run, "ship")["outputs"]["stdout"] == "shipped\n"
    events = [e["type"] for e in (await api.get(f"/api/v2/runs/{run_id}/logs")).json()["data"]["events"]]
    assert "step.waiting_approval" in events and "step.approval_decided" in events


async def test_reject_fails_the_gate_and_skips_what_follows(api: httpx.AsyncClient) -> None:
    run_id = await start(api, GATED)
    await wait_for_step(api, run_id, "gate", _waiting)
    rejected = await api.post(f"/api/v2/runs/{run_id}/steps/gate/reject", json={"comment": "not today"})
    assert rejected.status_code == 200
    assert rejected.json()["data"]["status"] == "failed"
    run = await wait_for_run(api, run_id)
    assert run["status"] == "failed"
    me = (await api.get("/api/v2/auth/me")).json()["data"]["username"]  # the signed-in caller decided
    assert step_of(run, "gate")["error"] == f"rejected by {me}: not today"
    assert step_of(run, "gate")["approval"]["by"] == me
    assert step_of(run, "ship")["status"] == "skipped"


async def test_a_decision_is_accepted_once(api: httpx.AsyncClient) -> None:
    run_id = await start(api, GATED)
    await wait_for_step(api, run_id, "gate", _waiting)
    assert (await api.post(f"/api/v2/runs/{run_id}/steps/gate/approve")).status_code == 200
    again = await api.post(f"/api/v2/runs/{run_id}/steps/gate/reject")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"
    assert (await wait_for_run(api, run_id))["status"] == "succeeded"


async def test_decisions_on_wrong_steps_are_refused(api: httpx.AsyncClient) -> None:
    run_id = await start(api, GATED)
    await wait_for_step(api, run_id, "gate", _waiting)
    not_a_gate = await api.post(f"/api/v2/runs/{run_id}/steps/build/approve")
    assert not_a_gate.status_code == 409
    assert "not an approval step" in not_a_gate.json()["error"]["message"]
    unknown_step = await api.post(f"/api/v2/runs/{run_id}/steps/nope/approve")
    assert unknown_step.status_code == 404
    assert unknown_step.json()["error"] == {"code": "RESOURCE_NOT_FOUND", "message": "Step not found",
                                            "resource": "step", "id": "nope"}
    unknown_run = await api.post("/api/v2/runs/run-nope/steps/gate/approve")
    assert unknown_run.status_code == 404
    await api.post(f"/api/v2/runs/{run_id}/steps/gate/approve")
    await wait_for_run(api, run_id)


async def test_approval_timeout_applies_on_timeout_policy(api: httpx.AsyncClient) -> None:
    definition = {"name": "timed gate", "steps": [
        {"id": "gate", "action": "approval", "parameters": {"timeout": "500ms"}},
        {"id": "auto", "action": "approval", "parameters": {"timeout": 300, "onTimeout": "approve"}},
    ]}
    run = await wait_for_run(api, await start(api, definition))
    assert step_of(run, "gate")["status"] == "failed"
    assert step_of(run, "gate")["approval"]["by"] == "timeout"
    assert step_of(run, "auto")["status"] == "succeeded"
    assert run["status"] == "failed"
