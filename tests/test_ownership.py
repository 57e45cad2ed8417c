"""Objects belong to their owners (docs/access.md), proven through the real app in both dialects.

The cross-user matrix is generated from the app's own routes, like tests/test_auth_matrix.py: every route that
changes something (POST, PUT, PATCH, DELETE) is either a case below — user B against user A's object gets the 403
or 404 the rules give, then A and an admin succeed — or is named in a list of routes that act on no one else's
object, with the reason. A route added later fails `test_every_mutating_route_is_in_the_matrix` until it is
placed. Then the reads: what B sees of A's agent config, task results and run logs (withheld), and what A, an
admin and a user the object is shared with see (everything); the `use` rules (assigning to an agent, submitting
into a swarm, joining a swarm); objects without an owner; and memory read as the task's owner, not the agent's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from temporalio.client import Client

from api.main import create_app
from core.agents import swarms, tasks
from core.agents.models import TaskStatus
from core.auth.users import UserInfo
from core.db import session_scope
from core.memory.service import Caller as MemoryCaller
from core.memory.service import service_for
from core.settings import get_settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.support import (
    caller_of,
    client_for,
    cmd,
    new_user,
    poll,
    settings_changed,
    token_for,
    wait_for_run,
    wait_for_step,
)
from tests.swarm_support import eventually, finished
from tests.test_auth_matrix import endpoints

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
ACTORS = ("owner", "other", "shared", "admin")

# Mutating routes that act on no other user's object: each creates something of the caller's own, or acts on the
# caller's own session. Adding to this set is a security decision: review it as one.
NOT_ON_ANOTHER_USERS_OBJECT = {
    ("POST", "/api/auth/oauth/clients"): "registers a client owned by the caller",
    ("POST", "/api/auth/oauth/authorize"): "the caller's own consent (the form signs them in)",
    ("POST", "/api/auth/oauth/token"): "a client exchanging its own code or refresh token",
    ("POST", "/api/auth/token"): "sign in",
    ("POST", "/api/auth/refresh"): "the caller's own refresh token",
    ("POST", "/api/auth/logout"): "the caller's own session",
    ("POST", "/api/auth/keys"): "a key of the caller's own",
    ("POST", "/api/swarms"): "a swarm of the caller's own",
    ("POST", "/api/v2/auth/register"): "a new account",
    ("POST", "/api/v2/auth/login"): "sign in",
    ("POST", "/api/v2/auth/refresh"): "the caller's own refresh token",
    ("POST", "/api/v2/auth/logout"): "the caller's own session",
    ("POST", "/api/v2/auth/keys"): "a key of the caller's own",
    ("POST", "/api/v2/workflows"): "a workflow of the caller's own",
    ("POST", "/api/v2/swarms"): "a swarm of the caller's own",
    ("POST", "/api/v2/sources"): "a git source of the caller's own",
    ("PUT", "/api/v2/webhooks/secrets/{name}"): "a webhook secret of the caller's own (another owner: admins only)",
    ("DELETE", "/api/v2/webhooks/secrets/{name}"): "names the caller's own secret (others' are invisible: 404)",
    ("POST", "/api/v2/webhooks/github"): "no caller: a signed delivery starts runs as each workflow's owner",
    ("POST", "/api/v2/webhooks/{workflow_id}"): "no caller: a signed delivery starts a run as the workflow's owner",
    ("POST", "/api/system/diagnostics"): "a diagnostic bundle of the platform (admins only: system:diagnostics)",
    ("POST", "/api/v2/github/repos/analyze"): "an analysis of the caller's own; a repository is no StellarFlow object "
                                              "(the server's token decides what it reaches: docs/github.md)",
    ("POST", "/api/v2/github/pr/{pr_number}/enhance"): "an enhancement of the caller's own, acting on GitHub with the "
                                                       "server's token (scoped by the operator: docs/github.md)",
    # /mcp/v1 (the REST façade of the MCP server) is POST throughout, as the spec has it; these only read
    ("POST", "/mcp/v1/initialize"): "reads: the server's capabilities",
    ("POST", "/mcp/v1/tools/list"): "reads: the tool list",
    ("POST", "/mcp/v1/resources/list"): "reads: what the caller may read",
    ("POST", "/mcp/v1/resources/read"): "reads, under the same read rules as REST",
    ("POST", "/mcp/v1/prompts/list"): "reads: the prompt list",
    ("POST", "/mcp/v1/prompts/get"): "reads: a prompt",
    ("POST", "/api/v2/tasks/orchestrate"): "an orchestration of the caller's own (a swarm it names must be the "
                                           "caller's or shared with them: 403, like submitting a task into it)",
}
# A *use* of another user's object, open to anyone with the route's permission: the result is the caller's own.
USES = {
    ("POST", "/api/v2/workflows/{workflow_id}/runs"): "starting a run: the run belongs to its starter",
}


# ---- the people and their clients ------------------------------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    users: dict[str, UserInfo]
    tokens: dict[str, str]
    created_agents: list[str] = field(default_factory=list)
    created_swarms: list[str] = field(default_factory=list)

    def client(self, actor: str) -> httpx.AsyncClient:
        return client_for(self.app, self.tokens[actor])

    async def call(self, actor: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async with self.client(actor) as client:
            return await client.request(method, url, **kwargs)

    def name(self, actor: str) -> str:
        return self.users[actor].username


@pytest.fixture(scope="module")
async def world(app: FastAPI) -> AsyncIterator[World]:
    users = {"owner": new_user("developer"), "other": new_user("developer"), "shared": new_user("developer"),
             "admin": new_user("admin")}
    found = World(app, users, {actor: token_for(user=user) for actor, user in users.items()})
    yield found
    # Leave no agents or swarms running for the rest of the session.
    for swarm_id in found.created_swarms:
        await found.call("admin", "DELETE", f"/api/v2/swarms/{swarm_id}", params={"force": "true"})
    for agent_id in found.created_agents:
        await found.call("admin", "DELETE", f"/api/agents/{agent_id}")


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (201, 202), response.text
    body = response.json()
    return body.get("data", body)


# ---- A's objects -----------------------------------------------------------------------------------------------


async def agent_of(world: World, actor: str = "owner", **body: Any) -> str:
    payload = {"type": "coder", "config": {"executor": "shell", "model": "m-private"},
               "shared_with": [world.name("shared")], **body}
    agent_id = _created(await world.call(actor, "POST", "/api/agents", json=payload))["id"]
    world.created_agents.append(agent_id)
    return agent_id


async def task_of(world: World, actor: str = "owner", **body: Any) -> str:
    payload = {"description": "a task", "requirements": {"command": "true"}, "shared_with": [world.name("shared")],
               **body}
    return _created(await world.call(actor, "POST", "/api/tasks", json=payload))["id"]


async def swarm_of(world: World, actor: str = "owner", **body: Any) -> str:
    payload = {"name": f"swarm-{uuid.uuid4().hex[:6]}", "shared_with": [world.name("shared")], **body}
    swarm_id = _created(await world.call(actor, "POST", "/api/swarms", json=payload))["id"]
    world.created_swarms.append(swarm_id)
    return swarm_id


GATE = {"id": "gate", "action": "approval", "parameters": {"message": "go?"}}


async def workflow_of(world: World, actor: str = "owner", *, steps: list[dict] | None = None,
                      inputs: dict | None = None) -> str:
    definition = {"name": f"owned-{uuid.uuid4().hex[:6]}", "steps": steps or [cmd("one", "true")],
                  "sharedWith": [world.name("shared")], **({"inputs": inputs} if inputs else {})}
    return _created(await world.call(actor, "POST", "/api/v2/workflows", json=definition))["id"]


async def run_of(world: World, workflow_id: str, actor: str = "owner", inputs: dict | None = None) -> str:
    response = await world.call(actor, "POST", f"/api/v2/workflows/{workflow_id}/runs", json={"inputs": inputs or {}})
    return _created(response)["id"]


async def waiting_gate(world: World, approvers: list[str]) -> str:
    """A run of A's workflow, started by A, waiting at an approval step that names `approvers`."""
    gate = {**GATE, "parameters": {**GATE["parameters"], "approvers": approvers}}
    run_id = await run_of(world, await workflow_of(world, steps=[gate]))
    async with world.client("owner") as owner:
        await wait_for_step(owner, run_id, "gate", lambda s: (s.get("approval") or {}).get("status") == "waiting")
    return run_id


async def memory_of(world: World, level: str) -> dict[str, str]:
    key, namespace = f"k-{uuid.uuid4().hex[:8]}", "ownership"
    await world.call("owner", "POST", "/api/memory", json={"key": key, "value": {"v": 1}, "namespace": namespace,
                                                             "access_level": level})
    return {"key": key, "namespace": namespace}


# ---- the matrix ----------------------------------------------------------------------------------------------


Request = tuple[str, dict[str, Any]]  # (url, httpx keyword arguments)


@dataclass
class Case:
    """One way to change A's object. `make` builds a fresh object (a context dict); `send` is the request an actor
    makes against it. `other` is what B gets; `allowed` are the actors that succeed (each on a fresh object)."""

    name: str
    make: Callable[[World], Awaitable[dict[str, Any]]]
    send: Callable[[World, dict[str, Any], str], Awaitable[Request] | Request]
    other: int = 403
    allowed: tuple[str, ...] = ("owner", "admin")
    refused_too: tuple[str, ...] = ()  # besides B, with `other`'s status (a starter approving their own run)


def _ctx(**values: Any) -> dict[str, Any]:
    return values


async def _agent_ctx(world: World) -> dict[str, Any]:
    return _ctx(agent=await agent_of(world))


async def _task_ctx(world: World) -> dict[str, Any]:
    return _ctx(task=await task_of(world))


async def _orchestration_ctx(world: World) -> dict[str, Any]:
    body = {"task": "wait", "agentConfig": {"executor": "shell"}, "sharedWith": [world.name("shared")],
            "requirements": {"phases": [{"name": "wait", "agents": ["devops"],
                                         "requirements": {"command": "sleep 30"}}]}}
    with settings_changed(world.app, heartbeat_timeout_s=2):  # its agent hears of a cancel within about 2 s
        response = await world.call("owner", "POST", "/api/v2/tasks/orchestrate", json=body)
    assert response.status_code == 202, response.text
    return _ctx(orchestration=response.json()["data"]["orchestrationId"])


async def _swarm_ctx(world: World) -> dict[str, Any]:
    return _ctx(swarm=await swarm_of(world))


async def _workflow_ctx(world: World) -> dict[str, Any]:
    return _ctx(workflow=await workflow_of(world))


async def _run_ctx(world: World) -> dict[str, Any]:
    return _ctx(run=await run_of(world, await workflow_of(world, steps=[GATE])))


async def _scheduled_ctx(world: World) -> dict[str, Any]:
    definition = {"name": f"scheduled-{uuid.uuid4().hex[:6]}", "steps": [cmd("one", "true")],
                  "triggers": [{"type": "schedule", "every": "1h"}]}
    return _ctx(workflow=_created(await world.call("owner", "POST", "/api/v2/workflows", json=definition))["id"])


async def _finished_run_ctx(world: World) -> dict[str, Any]:
    run_id = await run_of(world, await workflow_of(world))
    async with world.client("owner") as owner:
        await wait_for_run(owner, run_id)
    return _ctx(run=run_id)


async def _source_ctx(world: World) -> dict[str, Any]:
    body = {"name": "mine", "url": "http://127.0.0.1:9/nothing.git", "interval": 0}
    return _ctx(source=_created(await world.call("owner", "POST", "/api/v2/sources", json=body))["id"])


NEURAL_ROWS = [{"input": {"x": x / 10}, "output": {"label": "hi" if x > 5 else "lo"}} for x in range(12)]


def _train_body(**extra: Any) -> dict[str, Any]:
    return {"patternType": "ownership", "trainingData": {"samples": NEURAL_ROWS},
            "configuration": {"epochs": 2, "batchSize": 4}, **extra}


async def _model_ctx(world: World) -> dict[str, Any]:
    """A's model, shared with `shared`, once its first version is registered."""
    started = _created(await world.call("owner", "POST", "/api/v2/neural/train",
                                        json=_train_body(sharedWith=[world.name("shared")])))
    async with world.client("owner") as owner:
        done = await eventually(lambda: owner.get(f"/api/v2/neural/training/{started['trainingId']}"),
                                lambda r: r.json()["data"]["status"] != "training", "the training to end")
    data = done.json()["data"]
    assert data["status"] == "completed", data
    return _ctx(model=data["model"]["modelId"])


def _schedule(action: str) -> Case:
    body = {"json": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T01:00:00Z"}} if action == "backfill" else {}
    return Case(action, _scheduled_ctx, lambda w, c, a: (f"/api/v2/workflows/{c['workflow']}/schedules/0/{action}",
                                                          body))


async def _gate_ctx(world: World) -> dict[str, Any]:
    return _ctx(run=await waiting_gate(world, [world.name("shared"), "role:admin"]))


async def _key_ctx(world: World) -> dict[str, Any]:
    return _ctx(key=_created(await world.call("owner", "POST", "/api/v2/auth/keys", json={"name": "mine"}))["id"])


async def _oauth_ctx(world: World) -> dict[str, Any]:
    body = {"name": "dash", "redirect_uris": ["http://127.0.0.1:9/cb"], "scopes": ["read"], "type": "public"}
    return _ctx(client=_created(await world.call("owner", "POST", "/api/auth/oauth/clients", json=body))["client_id"])


async def _shared_memory(world: World) -> dict[str, Any]:
    return await memory_of(world, "shared")


async def _private_memory(world: World) -> dict[str, Any]:
    return await memory_of(world, "private")


async def _assign(world: World, ctx: dict[str, Any], actor: str) -> Request:
    """Each actor assigns A's task to an agent they may use (their own; A's for the admin), so only the task's
    ownership decides."""
    agent = await agent_of(world, "owner" if actor == "admin" else actor, shared_with=[])
    return f"/api/tasks/{ctx['task']}/assign", {"json": {"agent_id": agent}}


def _v2_agent(ctx: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "agent", "attributes": {"agentType": "coder", "configuration": {"executor": "shell"}},
                     "relationships": {"swarm": {"data": {"type": "swarm", "id": ctx["swarm"]}}}}}


def _v2_task(relationship: str, kind: str, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "task", "attributes": {"description": "x", "requirements": {"command": "true"}},
                     "relationships": {relationship: {"data": {"type": kind, "id": ctx[kind]}}}}}


async def _private_agent_ctx(world: World) -> dict[str, Any]:
    return _ctx(agent=await agent_of(world, shared_with=[]))


async def _private_swarm_ctx(world: World) -> dict[str, Any]:
    return _ctx(swarm=await swarm_of(world, shared_with=[]))


MEMORY_Q = lambda c: {"params": {"namespace": c["namespace"]}}  # noqa: E731

CASES: dict[tuple[str, str], list[Case]] = {
    # agents
    ("PUT", "/api/agents/{agent_id}"): [Case("reconfigure", _agent_ctx, lambda w, c, a: (
        f"/api/agents/{c['agent']}", {"json": {"name": f"by-{a}", "config": {"model": "m2"}}}))],
    ("DELETE", "/api/agents/{agent_id}"): [Case("terminate", _agent_ctx, lambda w, c, a: (
        f"/api/agents/{c['agent']}", {}))],
    ("POST", "/api/agents"): [Case("join A's swarm", _swarm_ctx, lambda w, c, a: (
        "/api/agents", {"json": {"type": "coder", "config": {"executor": "shell"}, "swarm_id": c["swarm"]}}))],
    ("POST", "/api/v2/agents"): [Case("join A's swarm", _swarm_ctx, lambda w, c, a: (
        "/api/v2/agents", {"json": _v2_agent(c)}))],
    # tasks
    ("PUT", "/api/tasks/{task_id}"): [Case("update", _task_ctx, lambda w, c, a: (
        f"/api/tasks/{c['task']}", {"json": {"priority": "high"}}))],
    ("DELETE", "/api/tasks/{task_id}"): [Case("cancel", _task_ctx, lambda w, c, a: (f"/api/tasks/{c['task']}", {}))],
    ("POST", "/api/tasks/{task_id}/assign"): [Case("assign", _task_ctx, _assign)],
    ("POST", "/api/tasks"): [Case("submit into A's swarm", _private_swarm_ctx, lambda w, c, a: (
        "/api/tasks", {"json": {"description": "x", "requirements": {"command": "true"}, "swarm_id": c["swarm"]}}))],
    ("POST", "/api/v2/tasks"): [
        Case("submit into A's swarm", _private_swarm_ctx, lambda w, c, a: (
            "/api/v2/tasks", {"json": _v2_task("swarm", "swarm", c)})),
        Case("assign to A's agent", _private_agent_ctx, lambda w, c, a: (
            "/api/v2/tasks", {"json": _v2_task("assignedAgent", "agent", c)})),
    ],
    # swarms
    ("POST", "/api/swarms/{swarm_id}/control"): [Case("pause", _swarm_ctx, lambda w, c, a: (
        f"/api/swarms/{c['swarm']}/control", {"json": {"action": "pause"}}))],
    ("POST", "/api/swarms/{swarm_id}/broadcast"): [Case("broadcast", _swarm_ctx, lambda w, c, a: (
        f"/api/swarms/{c['swarm']}/broadcast", {"json": {"message": {"content": "hello"}}}))],
    ("PATCH", "/api/v2/swarms/{swarm_id}"): [Case("reconfigure", _swarm_ctx, lambda w, c, a: (
        f"/api/v2/swarms/{c['swarm']}", {"json": {"data": {"type": "swarm", "attributes": {"name": f"by-{a}"}}}}))],
    ("POST", "/api/v2/swarms/{swarm_id}/start"): [Case("start", _swarm_ctx, lambda w, c, a: (
        f"/api/v2/swarms/{c['swarm']}/start", {}))],
    ("POST", "/api/v2/swarms/{swarm_id}/stop"): [Case("stop", _swarm_ctx, lambda w, c, a: (
        f"/api/v2/swarms/{c['swarm']}/stop", {}))],
    ("DELETE", "/api/v2/swarms/{swarm_id}"): [Case("delete", _swarm_ctx, lambda w, c, a: (
        f"/api/v2/swarms/{c['swarm']}", {}))],
    # workflows and runs
    ("PUT", "/api/v2/workflows/{workflow_id}"): [Case("new version", _workflow_ctx, lambda w, c, a: (
        f"/api/v2/workflows/{c['workflow']}", {"json": {"name": f"by-{a}", "steps": [cmd("x", "echo changed")]}}))],
    ("DELETE", "/api/v2/workflows/{workflow_id}"): [Case("delete", _workflow_ctx, lambda w, c, a: (
        f"/api/v2/workflows/{c['workflow']}", {}))],
    ("POST", "/api/v2/runs/{run_id}/cancel"): [Case("cancel", _run_ctx, lambda w, c, a: (
        f"/api/v2/runs/{c['run']}/cancel", {}))],
    # orchestrations: cancelling is for the owner and admins, not for users it is shared with
    ("POST", "/api/v2/orchestrations/{orchestration_id}/cancel"): [Case("cancel", _orchestration_ctx, lambda w, c, a: (
        f"/api/v2/orchestrations/{c['orchestration']}/cancel", {}), refused_too=("shared",))],
    # a re-run carries the run's inputs and outputs over: for those who may read them (the workflow is shared)
    ("POST", "/api/v2/runs/{run_id}/rerun"): [Case("rerun", _finished_run_ctx, lambda w, c, a: (
        f"/api/v2/runs/{c['run']}/rerun", {"json": {"failedOnly": True}}), allowed=("owner", "shared", "admin"))],
    ("POST", "/api/v2/workflows/{workflow_id}/schedules/{n}/{action}"): [
        _schedule("pause"), _schedule("resume"), _schedule("trigger")],
    ("POST", "/api/v2/workflows/{workflow_id}/schedules/{n}/backfill"): [_schedule("backfill")],
    # git sources
    ("POST", "/api/v2/sources/{source_id}/sync"): [Case("sync", _source_ctx, lambda w, c, a: (
        f"/api/v2/sources/{c['source']}/sync", {}))],
    ("DELETE", "/api/v2/sources/{source_id}"): [Case("delete", _source_ctx, lambda w, c, a: (
        f"/api/v2/sources/{c['source']}", {}))],
    # approvals follow the step's approvers (a user and role:admin here), not ownership: the starter is refused
    ("POST", "/api/v2/runs/{run_id}/steps/{step_id}/approve"): [Case(
        "approve", _gate_ctx, lambda w, c, a: (f"/api/v2/runs/{c['run']}/steps/gate/approve", {}),
        allowed=("shared", "admin"), refused_too=("owner",))],
    ("POST", "/api/v2/runs/{run_id}/steps/{step_id}/reject"): [Case(
        "reject", _gate_ctx, lambda w, c, a: (f"/api/v2/runs/{c['run']}/steps/gate/reject", {}),
        allowed=("shared", "admin"), refused_too=("owner",))],
    # memory: a shared entry is visible (403), a private one is not (404)
    ("PUT", "/api/memory/{key}"): [
        Case("update shared", _shared_memory, lambda w, c, a: (
            f"/api/memory/{c['key']}", {**MEMORY_Q(c), "json": {"value": {"by": a}}})),
        Case("update private", _private_memory, lambda w, c, a: (
            f"/api/memory/{c['key']}", {**MEMORY_Q(c), "json": {"value": {"by": a}}}), other=404),
    ],
    ("DELETE", "/api/memory/{key}"): [
        Case("delete shared", _shared_memory, lambda w, c, a: (f"/api/memory/{c['key']}", MEMORY_Q(c))),
        Case("delete private", _private_memory, lambda w, c, a: (f"/api/memory/{c['key']}", MEMORY_Q(c)),
             other=404),
    ],
    ("POST", "/api/memory"): [Case("new version of a shared key", _shared_memory, lambda w, c, a: (
        "/api/memory", {"json": {"key": c["key"], "namespace": c["namespace"], "value": {"by": a}}}))],
    ("POST", "/api/v2/memory"): [Case("new version of a shared key", _shared_memory, lambda w, c, a: (
        "/api/v2/memory", {"json": {"key": c["key"], "namespace": c["namespace"], "value": {"by": a}}}))],
    # an MCP tool through the /mcp/v1 façade: the same service and rule as DELETE /api/tasks/{id}
    ("POST", "/mcp/v1/tools/call"): [Case("task_cancel", _task_ctx, lambda w, c, a: (
        "/mcp/v1/tools/call", {"json": {"name": "task_cancel", "arguments": {"task_id": c["task"]}}}))],
    # neural models: a new version changes the model; predicting uses it (owner, shared, admin)
    ("POST", "/api/v2/neural/train"): [Case("new version of A's model", _model_ctx, lambda w, c, a: (
        "/api/v2/neural/train", {"json": _train_body(modelId=c["model"])}))],
    ("POST", "/api/v2/neural/predict"): [Case("predict with A's model", _model_ctx, lambda w, c, a: (
        "/api/v2/neural/predict", {"json": {"modelId": c["model"], "input": {"x": 0.3}}}),
        allowed=("owner", "shared", "admin"))],
    # credentials: their existence is private (404)
    ("DELETE", "/api/auth/keys/{key_id}"): [Case("revoke", _key_ctx, lambda w, c, a: (
        f"/api/auth/keys/{c['key']}", {}), other=404)],
    ("DELETE", "/api/v2/auth/keys/{key_id}"): [Case("revoke", _key_ctx, lambda w, c, a: (
        f"/api/v2/auth/keys/{c['key']}", {}), other=404)],
    ("DELETE", "/api/auth/oauth/clients/{client_id}"): [Case("delete", _oauth_ctx, lambda w, c, a: (
        f"/api/auth/oauth/clients/{c['client']}", {}), other=404)],
}
MATRIX = [(method, path, case) for (method, path), cases in CASES.items() for case in cases]


def test_every_mutating_route_is_in_the_matrix() -> None:
    mutating = {(e.method, e.path) for e in endpoints(create_app(get_settings())) if e.method in MUTATING}
    placed = set(CASES) | set(NOT_ON_ANOTHER_USERS_OBJECT) | set(USES)
    assert mutating - placed == set(), "place these routes in the ownership matrix"
    assert placed - mutating == set(), "these routes no longer exist: tidy the matrix"
    assert not set(CASES) & (set(NOT_ON_ANOTHER_USERS_OBJECT) | set(USES))


async def _send(world: World, case: Case, ctx: dict[str, Any], actor: str, method: str) -> httpx.Response:
    request = case.send(world, ctx, actor)
    url, kwargs = await request if isinstance(request, Awaitable) else request
    return await world.call(actor, method, url, **kwargs)


@pytest.mark.parametrize(("method", "path", "case"), MATRIX, ids=[f"{m} {p} ({c.name})" for m, p, c in MATRIX])
async def test_another_user_is_refused_and_the_owner_and_an_admin_succeed(
        world: World, method: str, path: str, case: Case) -> None:
    ctx = await case.make(world)
    for actor in ("other", *case.refused_too):
        refused = await _send(world, case, ctx, actor, method)
        assert refused.status_code == case.other, f"{actor}: {refused.status_code} {refused.text}"
        code = {403: "FORBIDDEN", 404: "RESOURCE_NOT_FOUND"}[case.other]
        assert refused.json()["error"]["code"] == code, refused.text
    for index, actor in enumerate(case.allowed):
        if index:
            ctx = await case.make(world)  # a fresh object: the first success may have used it up
        done = await _send(world, case, ctx, actor, method)
        assert done.status_code < 300, f"{actor}: {done.status_code} {done.text}"


async def test_a_refused_change_changes_nothing(world: World) -> None:
    agent = await agent_of(world)
    refused = await world.call("other", "PUT", f"/api/agents/{agent}", json={"config": {"model": "stolen"}})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert (error["code"], error["message"]) == ("FORBIDDEN", "Only the agent's owner or an admin may change it")
    assert error["details"] == {"agent_id": agent}
    seen = (await world.call("owner", "GET", f"/api/agents/{agent}")).json()
    assert seen["config"]["model"] == "m-private" and seen["owner"] == world.users["owner"].id


# ---- using another user's agent or swarm ---------------------------------------------------------------------


async def test_assigning_to_an_agent_needs_it_to_be_yours_or_shared(world: World) -> None:
    mine = await task_of(world, "other")
    theirs = await agent_of(world, shared_with=[])  # A's, shared with nobody
    refused = await world.call("other", "POST", f"/api/tasks/{mine}/assign", json={"agent_id": theirs})
    assert refused.status_code == 403 and "not shared with you" in refused.json()["error"]["message"]
    shared = await agent_of(world)  # A's, shared with `shared`
    task = await task_of(world, "shared")
    assert (await world.call("shared", "POST", f"/api/tasks/{task}/assign", json={"agent_id": shared})) \
        .status_code == 200


async def test_submitting_into_a_swarm_needs_it_to_be_yours_or_shared(world: World) -> None:
    swarm = await swarm_of(world)  # shared with `shared`
    body = {"description": "x", "requirements": {"command": "true"}, "swarm_id": swarm}
    assert (await world.call("other", "POST", "/api/tasks", json=body)).status_code == 403
    accepted = await world.call("shared", "POST", "/api/tasks", json=body)
    assert accepted.status_code == 201
    assert accepted.json()["swarm_id"] == swarm
    # sharing lets a user submit work, not change the swarm or add agents to it
    assert (await world.call("shared", "POST", f"/api/swarms/{swarm}/control", json={"action": "pause"})) \
        .status_code == 403
    joined = await world.call("shared", "POST", "/api/agents", json={"type": "coder", "swarm_id": swarm,
                                                                     "config": {"executor": "shell"}})
    assert joined.status_code == 403


async def test_anyone_who_may_run_workflows_may_start_one_and_owns_the_run(world: World) -> None:
    workflow = await workflow_of(world)
    run_id = await run_of(world, workflow, "other")
    async with world.client("other") as other:
        run = await wait_for_run(other, run_id)
    assert run["startedBy"] == {"id": world.users["other"].id, "username": world.name("other")}
    logs = (await world.call("other", "GET", f"/api/v2/runs/{run_id}/logs")).json()["data"]
    started = next(e for e in logs["events"] if e["type"] == "run.started")
    assert started["data"]["startedBy"] == {"id": world.users["other"].id, "username": world.name("other")}
    mine = await world.call("other", "GET", "/api/v2/runs", params={"filter[startedBy]": world.users["other"].id})
    assert [r["id"] for r in mine.json()["data"]] == [run_id]


async def test_sharing_names_existing_users(world: World) -> None:
    response = await world.call("owner", "POST", "/api/agents", json={
        "type": "coder", "config": {"executor": "shell"}, "shared_with": ["no-such-user-anywhere"]})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "shared_with"
    swarm = await swarm_of(world)
    changed = await world.call("owner", "PATCH", f"/api/v2/swarms/{swarm}", json={
        "data": {"type": "swarm", "attributes": {"sharedWith": [world.name("other").upper()]}}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["attributes"]["sharedWith"] == [world.name("other")]  # as registered
    body = {"description": "x", "requirements": {"command": "true"}, "swarm_id": swarm}
    assert (await world.call("other", "POST", "/api/tasks", json=body)).status_code == 201


# ---- what a reader sees --------------------------------------------------------------------------------------


async def test_agent_config_is_for_the_owner_admins_and_users_it_is_shared_with(world: World) -> None:
    swarm = await swarm_of(world)
    agent = await agent_of(world, swarm_id=swarm)
    for actor in ACTORS:
        d1 = (await world.call(actor, "GET", f"/api/agents/{agent}")).json()
        d2 = (await world.call(actor, "GET", f"/api/v2/agents/{agent}")).json()
        listed = (await world.call(actor, "GET", f"/api/v2/swarms/{swarm}/agents")).json()["data"]
        item = next(a for a in listed if a["id"] == agent)
        assert d1["name"] and d2["data"]["attributes"]["status"]  # metadata for everyone
        assert d1["owner"] == world.users["owner"].id and d1["shared_with"] == [world.name("shared")]
        if actor == "other":
            assert d1["config"] is None and d1["redacted"] == ["config"]
            assert d2["data"]["attributes"]["configuration"] is None
            assert d2["data"]["meta"]["redacted"] == ["configuration"]
            assert item["attributes"]["configuration"] is None and item["meta"]["redacted"] == ["configuration"]
        else:
            assert d1["config"] == {"executor": "shell", "model": "m-private"} and "redacted" not in d1
            assert d2["data"]["attributes"]["configuration"]["model"] == "m-private"
            assert "meta" not in d2["data"] and item["attributes"]["configuration"]["model"] == "m-private"


async def test_task_results_are_for_the_owner_admins_and_users_it_is_shared_with(world: World) -> None:
    agent = await agent_of(world)
    task = await task_of(world, requirements={"command": "echo task-secret-output",
                                              "env": {"DEPLOY_TOKEN": "s3cret-value"}})
    assert (await world.call("owner", "POST", f"/api/tasks/{task}/assign", json={"agent_id": agent})) \
        .status_code == 200
    async with world.client("owner") as owner:
        await poll(owner, f"/api/tasks/{task}", lambda t: t["status"] == "completed")
    for actor in ACTORS:
        d1 = await world.call(actor, "GET", f"/api/tasks/{task}")
        d2 = await world.call(actor, "GET", f"/api/v2/tasks/{task}")
        results = await world.call(actor, "GET", f"/api/v2/tasks/{task}/results")
        listed = await world.call(actor, "GET", "/api/tasks", params={"status": "completed", "limit": 100})
        for response in (d1, d2, results, listed):
            assert "s3cret-value" not in response.text  # requirements.env values: never, for anyone
        d1, d2, results = d1.json(), d2.json(), results.json()
        assert d1["status"] == "completed" and d1["description"] == "a task"  # metadata for everyone
        if actor == "other":
            assert d1["result"] is None and d1["requirements"] is None and d1["error"] is None
            assert d1["redacted"] == ["requirements", "result", "error", "progress_message"]
            assert d2["data"]["attributes"]["requirements"] is None
            assert d2["data"]["meta"]["redacted"] == ["requirements", "result", "error", "progressMessage"]
            assert results["data"]["result"] is None and results["meta"]["redacted"] == ["result", "error"]
        else:
            assert "task-secret-output" in d1["result"]["output"]["text"]
            assert d1["requirements"]["env"] == {"DEPLOY_TOKEN": "***"}
            assert d2["data"]["attributes"]["requirements"]["env"] == {"DEPLOY_TOKEN": "***"}
            assert "task-secret-output" in results["data"]["result"]["output"]
            assert "redacted" not in results["meta"]


async def test_run_logs_are_for_the_starter_the_workflow_owner_admins_and_shared_users(world: World) -> None:
    workflow = await workflow_of(world, steps=[cmd("say", "echo run-secret-output")],
                                 inputs={"word": {"type": "string"}})
    run_id = await run_of(world, workflow, inputs={"word": "xyzzy"})
    async with world.client("owner") as owner:
        await wait_for_run(owner, run_id)
    for actor in ACTORS:
        run = (await world.call(actor, "GET", f"/api/v2/runs/{run_id}")).json()
        logs = (await world.call(actor, "GET", f"/api/v2/runs/{run_id}/logs")).json()
        listed = (await world.call(actor, "GET", "/api/runs", params={"workflow_id": workflow})).json()["runs"]
        step = run["data"]["steps"][0]
        assert run["data"]["status"] == "succeeded" and step["status"] == "succeeded"  # metadata for everyone
        assert run["data"]["startedBy"]["username"] == world.name("owner")
        if actor == "other":
            assert run["data"]["inputs"] is None and step["outputs"] is None
            assert run["meta"]["redacted"] == ["inputs", "steps.outputs", "steps.error"]
            assert logs["data"]["events"] is None and logs["data"]["steps"][0]["stdout"] is None
            assert "steps.stdout" in logs["meta"]["redacted"]
            assert listed[0]["inputs"] is None and listed[0]["redacted"] == ["inputs"]
            assert "run-secret" not in str(run) + str(logs)
        else:
            assert run["data"]["inputs"] == {"word": "xyzzy"} and "redacted" not in run["meta"]
            assert step["outputs"]["stdout"] == "run-secret-output\n"
            assert logs["data"]["steps"][0]["stdout"] == "run-secret-output\n" and logs["data"]["events"]
            assert listed[0]["inputs"] == {"word": "xyzzy"}
    # the workflow's owner reads the runs others start of it; a run's starter reads their own
    other_run = await run_of(world, workflow, "other", inputs={"word": "plugh"})
    async with world.client("other") as other:
        await wait_for_run(other, other_run)
    for actor in ("owner", "other"):
        logs = (await world.call(actor, "GET", f"/api/v2/runs/{other_run}/logs")).json()["data"]
        assert logs["steps"][0]["stdout"] == "run-secret-output\n" and logs["events"]
    assert (await world.call("shared", "GET", f"/api/v2/runs/{other_run}")).json()["data"]["inputs"] == {
        "word": "plugh"}  # the workflow is shared with them


async def test_cancelling_a_run_is_for_its_starter_the_workflow_owner_and_admins(world: World) -> None:
    workflow = await workflow_of(world, steps=[GATE])
    started_by_other = await run_of(world, workflow, "other")
    assert (await world.call("shared", "POST", f"/api/v2/runs/{started_by_other}/cancel")).status_code == 403
    assert (await world.call("owner", "POST", f"/api/v2/runs/{started_by_other}/cancel")).status_code == 202
    again = await run_of(world, workflow, "other")
    assert (await world.call("other", "POST", f"/api/v2/runs/{again}/cancel")).status_code == 202


# ---- objects without a human owner -----------------------------------------------------------------------------


async def test_objects_from_before_owners_and_the_systems_are_changed_by_admins_only(world: World) -> None:
    workflow = await workflow_of(world)
    with session_scope() as session:  # as if stored before owners were recorded
        session.execute(text("UPDATE workflows SET owner = NULL WHERE id = :id"), {"id": workflow})
    change = {"name": "legacy", "steps": [cmd("x", "echo changed")]}
    assert (await world.call("owner", "PUT", f"/api/v2/workflows/{workflow}", json=change)).status_code == 403
    assert (await world.call("admin", "PUT", f"/api/v2/workflows/{workflow}", json=change)).status_code == 200
    # the shipped definitions (loaded from the definitions folder) belong to the system
    shipped = (await world.call("owner", "GET", "/api/v2/workflows/fan-out")).json()["data"]
    assert shipped["owner"] == "system" and shipped["source"] == "file:fan-out.yaml"
    refused = await world.call("owner", "PUT", "/api/v2/workflows/fan-out", json=change)
    assert refused.status_code == 403
    assert (await world.call("owner", "DELETE", "/api/v2/workflows/fan-out")).status_code == 403


async def test_a_deleted_workflows_id_stays_its_owners(world: World) -> None:
    workflow = await workflow_of(world)
    assert (await world.call("owner", "DELETE", f"/api/v2/workflows/{workflow}")).status_code == 204
    taken = {"name": "squatter", "steps": [cmd("x", "true")]}
    assert (await world.call("other", "PUT", f"/api/v2/workflows/{workflow}", json=taken)).status_code == 403
    back = await world.call("owner", "PUT", f"/api/v2/workflows/{workflow}", json={"name": "back",
                                                                                    "steps": [cmd("x", "true")]})
    assert back.status_code == 200, back.text  # its owner may bring it back: the next version, old ones kept
    assert (back.json()["data"]["version"], back.json()["data"]["owner"]) == (2, world.users["owner"].id)


# ---- memory is read as the task's owner ---------------------------------------------------------------------


async def test_a_task_reads_memory_as_its_owner_never_as_the_agents(app: FastAPI, world: World,
                                                                     temporal_client: Client) -> None:
    """B's swarm (shared with A) runs LLM agents that read the memory keys a task names. A's task naming B's
    private entry does not get it; B's own task does — same swarm, same agents."""
    owner_b, owner_a = world.users["other"], world.users["owner"]
    namespace = f"leak-{uuid.uuid4().hex[:6]}"
    memory = service_for()
    memory.store(MemoryCaller(owner=owner_b.id), namespace, "b-private", {"plan": "b-only-secret"},
                 access_level="private")
    memory.store(MemoryCaller(owner=owner_b.id), namespace, "b-shared", {"plan": "everyone-may-read"},
                 access_level="shared")
    with FakeOpenAIServer("done") as llm:
        settings = get_settings().model_copy(update={"llm_allowed_urls": [llm.base_url]})
        body = swarms.SwarmCreate(
            name="b's swarm", topology="star", shared_with=[owner_a.username],
            agent_config={"executor": "llm", "base_url": llm.base_url, "model": "fake-model"},
            initial_agents=[swarms.InitialAgents(type="coder", count=1)])
        swarm = await swarms.create_swarm(temporal_client, settings, body, caller=caller_of(owner_b),
                                          tier="enterprise")
        world.created_swarms.append(swarm.spec.id)
        await eventually(lambda: swarms.get_swarm(temporal_client, swarm.spec.id),
                         lambda s: len(s.live_agents) == 1, "the swarm's agent")
        wanted = {"memory_keys": ["b-private", "b-shared"], "memory_namespace": namespace}

        async def prompt_of(user: UserInfo) -> str:
            created = await tasks.create_task(
                temporal_client, settings, tasks.TaskCreate(description=f"task of {user.username}",
                                                            requirements=wanted, swarm_id=swarm.spec.id),
                caller=caller_of(user), tier="enterprise")
            done = await finished(temporal_client, created.spec.id)
            assert done.status == TaskStatus.completed, done.error
            prompts = [llm.messages(i)["user"] for i in range(len(llm.chat_requests))]
            return next(prompt for prompt in prompts if f"task of {user.username}" in prompt)

        as_a = await prompt_of(owner_a)
        assert "everyone-may-read" in as_a and "b-only-secret" not in as_a
        as_b = await prompt_of(owner_b)
        assert "b-only-secret" in as_b and "everyone-may-read" in as_b
