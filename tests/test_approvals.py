"""Approval gates: the run blocks until a person decides through the API (a Temporal Update). Runs here are started
by the admin and decided by `reviewer`, another user: the starter may not approve their own run (see the rules'
own tests below)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.auth.permissions import ROLE_NAMES
from core.auth.users import UserInfo
from core.pipelines import approvals
from core.pipelines.contracts import DECIDE_APPROVAL_UPDATE, ApprovalDecision
from core.pipelines.models import StepState
from tests.support import client_for, cmd, new_user, start, step_of, token_for, wait_for_run, wait_for_step


@pytest.fixture
async def reviewer(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, token_for("developer")) as client:
        yield client

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


async def test_approve_lets_the_run_continue(api: httpx.AsyncClient, reviewer: httpx.AsyncClient) -> None:
    run_id = await start(api, GATED)
    gate = await wait_for_step(api, run_id, "gate", _waiting)
    assert gate["status"] == "running"
    assert gate["approval"]["message"] == "Ship it?"
    assert step_of((await api.get(f"/api/v2/runs/{run_id}")).json()["data"], "ship")["status"] == "pending"

    decided = await reviewer.post(f"/api/v2/runs/{run_id}/steps/gate/approve", json={"comment": "LGTM"})
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


async def test_a_decision_is_accepted_once(api: httpx.AsyncClient, reviewer: httpx.AsyncClient) -> None:
    run_id = await start(api, GATED)
    await wait_for_step(api, run_id, "gate", _waiting)
    assert (await reviewer.post(f"/api/v2/runs/{run_id}/steps/gate/approve")).status_code == 200
    again = await api.post(f"/api/v2/runs/{run_id}/steps/gate/reject")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"
    assert (await wait_for_run(api, run_id))["status"] == "succeeded"


async def test_decisions_on_wrong_steps_are_refused(api: httpx.AsyncClient, reviewer: httpx.AsyncClient) -> None:
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
    await reviewer.post(f"/api/v2/runs/{run_id}/steps/gate/approve")
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


# ---- who may decide (core/pipelines/approvals.py) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def people() -> dict[str, UserInfo]:
    return {"starter": new_user("developer"), "approver": new_user("developer"), "bystander": new_user("developer"),
            "admin": new_user("admin")}


async def _as(app: FastAPI, user: UserInfo, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with client_for(app, token_for(user=user)) as client:
        return await client.request(method, url, **kwargs)


async def _gated_run(app: FastAPI, starter: UserInfo, **parameters: Any) -> str:
    definition = {"name": "who decides", "steps": [
        {"id": "gate", "action": "approval", "parameters": {"message": "ok?", **parameters}}]}
    async with client_for(app, token_for(user=starter)) as client:
        run_id = await start(client, definition)
        await wait_for_step(client, run_id, "gate", _waiting)
    return run_id


def _refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "FORBIDDEN" and words in error["message"], error


async def test_the_starter_may_not_approve_their_own_run_unless_the_step_allows_it(
        app: FastAPI, people: dict[str, UserInfo]) -> None:
    starter, bystander = people["starter"], people["bystander"]
    run_id = await _gated_run(app, starter)
    approve = f"/api/v2/runs/{run_id}/steps/gate/approve"
    _refused(await _as(app, starter, "POST", approve), "you started this run")
    assert (await _as(app, bystander, "POST", approve)).status_code == 200  # no approvers named: anyone else

    allowed = await _gated_run(app, starter, allowSelfApproval=True)
    decided = await _as(app, starter, "POST", f"/api/v2/runs/{allowed}/steps/gate/approve")
    assert decided.status_code == 200 and decided.json()["data"]["approval"]["by"] == starter.username

    own = await _gated_run(app, starter)  # stopping one's own run needs no one else
    assert (await _as(app, starter, "POST", f"/api/v2/runs/{own}/steps/gate/reject")).status_code == 200


async def test_only_the_named_approvers_decide_by_username_or_role(app: FastAPI, people: dict[str, UserInfo]) -> None:
    starter, approver, bystander, admin = (people[k] for k in ("starter", "approver", "bystander", "admin"))
    approvers = [approver.username.upper(), "role:admin"]  # usernames compare case-insensitively
    run_id = await _gated_run(app, starter, approvers=approvers)
    for decision in ("approve", "reject"):
        _refused(await _as(app, bystander, "POST", f"/api/v2/runs/{run_id}/steps/gate/{decision}"),
                 "is not among this step's approvers")
    _refused(await _as(app, starter, "POST", f"/api/v2/runs/{run_id}/steps/gate/reject"), "not among")
    waiting = (await _as(app, bystander, "GET", f"/api/v2/runs/{run_id}")).json()["data"]["steps"][0]["approval"]
    assert waiting["status"] == "waiting" and waiting["approvers"] == approvers  # who may decide is visible
    by_name = await _as(app, approver, "POST", f"/api/v2/runs/{run_id}/steps/gate/approve", json={"comment": "ok"})
    assert by_name.status_code == 200, by_name.text

    by_role = await _gated_run(app, starter, approvers=approvers)
    assert (await _as(app, admin, "POST", f"/api/v2/runs/{by_role}/steps/gate/approve")).status_code == 200
    # an admin who is not named is not an approver: an approval is a second pair of eyes, not a permission
    named_only = await _gated_run(app, starter, approvers=[approver.username])
    _refused(await _as(app, admin, "POST", f"/api/v2/runs/{named_only}/steps/gate/approve"), "not among")
    assert (await _as(app, approver, "POST", f"/api/v2/runs/{named_only}/steps/gate/approve")).status_code == 200


async def test_who_decided_and_when_is_in_the_events_and_the_temporal_history(
        app: FastAPI, people: dict[str, UserInfo], temporal_client: Client) -> None:
    starter, approver = people["starter"], people["approver"]
    run_id = await _gated_run(app, starter, approvers=[approver.username])
    await _as(app, approver, "POST", f"/api/v2/runs/{run_id}/steps/gate/approve", json={"comment": "ship it"})
    async with client_for(app, token_for(user=starter)) as client:
        run = await wait_for_run(client, run_id)
        events = (await client.get(f"/api/v2/runs/{run_id}/logs")).json()["data"]["events"]
    decided = next(e for e in events if e["type"] == "step.approval_decided")["data"]
    assert (decided["by"], decided["byId"], decided["byRole"], decided["comment"]) == (
        approver.username, approver.id, "developer", "ship it")
    assert decided["at"] and decided["status"] == "approved"
    assert step_of(run, "gate")["approval"]["byId"] == approver.id
    started = next(e for e in events if e["type"] == "run.started")["data"]
    assert started["startedBy"] == {"id": starter.id, "username": starter.username}

    history = await temporal_client.get_workflow_handle(run_id).fetch_history()
    accepted = [e.workflow_execution_update_accepted_event_attributes for e in history.events
                if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert len(accepted) == 1
    decision = json.loads(accepted[0].accepted_request.input.args.payloads[0].data)
    assert (decision["by"], decision["by_id"], decision["by_role"]) == (approver.username, approver.id, "developer")


async def test_the_workflow_refuses_a_decision_that_got_around_the_api(
        app: FastAPI, people: dict[str, UserInfo], temporal_client: Client) -> None:
    """The API's check is for a clear 403; the run's own Update validator is the authority, so an Update sent
    straight to Temporal by any other front end meets the same rules."""
    starter = people["starter"]
    run_id = await _gated_run(app, starter)
    handle = temporal_client.get_workflow_handle(run_id)
    for decision in (
        ApprovalDecision(step_id="gate", approved=True, by=starter.username, by_id=starter.id, by_role="developer"),
        ApprovalDecision(step_id="gate", approved=True, by="someone"),  # no decider named
    ):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(DECIDE_APPROVAL_UPDATE, decision, result_type=StepState)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == approvals.FORBIDDEN_TYPE
    run = (await _as(app, starter, "GET", f"/api/v2/runs/{run_id}")).json()["data"]
    assert run["steps"][0]["approval"]["status"] == "waiting"
    await _as(app, starter, "POST", f"/api/v2/runs/{run_id}/cancel")


@pytest.mark.parametrize(("parameters", "field", "words"), [
    ({"approvers": ["role:wizard"]}, "steps[0].parameters.approvers", "unknown role 'wizard'"),
    ({"approvers": ["not a name!"]}, "steps[0].parameters.approvers", "neither a username nor role:<role>"),
    ({"approvers": "{{ inputs.who }}"}, "steps[0].parameters.approvers", "must be written out"),
    ({"allowSelfApproval": "{{ inputs.me }}"}, "steps[0].parameters.allowSelfApproval", "must be written out"),
], ids=["unknown role", "bad name", "templated approvers", "templated self-approval"])
async def test_approvers_are_written_out_in_a_known_form(api: httpx.AsyncClient, parameters: dict, field: str,
                                                         words: str) -> None:
    definition = {"name": "bad gate", "inputs": {"who": {"type": "string"}, "me": {"type": "boolean"}},
                  "steps": [{"id": "gate", "action": "approval", "parameters": parameters}]}
    response = await api.post("/api/v2/workflows", json=definition)
    assert response.status_code == 400, response.text
    details = response.json()["error"]["details"]
    assert any(d["field"] == field and words in d["message"] for d in details), details


def test_the_approval_roles_are_the_roles() -> None:
    assert approvals.ROLES == ROLE_NAMES  # workflows may not import core.auth, so the list is kept twice
