"""Swarms over REST in both dialects (`/api/swarms`, `/api/v2/swarms`, `/api/v2/operations`), starting with the
specs' own example bodies: create/list/status/patch shapes, control actions (pause, resume, scale add/remove,
optimize, rebalance), broadcast, start/stop as 202 operations, DELETE with and without `force`, the swarm's
agents and tasks (and `include=`), a shell swarm running a task, and 400/403/404/409."""

from __future__ import annotations

from collections.abc import Awaitable

import httpx
from fastapi import FastAPI
from ulid import ULID

from core.ids import new_id
from tests.support import client_for, poll
from tests.swarm_support import eventually

V1_CREATE = {
    "name": "Microservices Development", "objective": "Build microservices architecture", "topology": "mesh",
    "config": {"max_agents": 10, "auto_scale": True, "fault_tolerance": "high", "communication_protocol": "async"},
    "initial_agents": [{"type": "architect", "count": 1}, {"type": "backend-dev", "count": 3},
                       {"type": "tester", "count": 2}],
    "tasks": ["Design system architecture", "Implement user service", "Implement order service",
              "Create API gateway", "Setup monitoring"],
}
V2_CREATE = {"data": {"type": "swarm", "attributes": {
    "name": "AI Research Swarm", "topology": "mesh", "maxAgents": 12, "strategy": "adaptive",
    "configuration": {"enableCoordination": True, "enableLearning": True, "persistenceMode": "auto",
                      "coordinationProtocol": "consensus"}}}}
V1_SCALE = {"action": "scale", "parameters": {"agent_type": "backend-dev", "count": 2, "operation": "add"}}
V1_BROADCAST = {"message": {"type": "directive", "content": "Switch to high-priority mode", "target": "all",
                            "priority": "high"}}


async def shell_swarm(api: httpx.AsyncClient, *, testers: int = 2, **extra: object) -> str:
    """A star swarm of `testers` shell agents (which run `requirements.command`)."""
    body = {"name": f"shell-{ULID()}", "topology": "star", "agent_config": {"executor": "shell"},
            "initial_agents": [{"type": "tester", "count": testers}], **extra}
    created = await api.post("/api/swarms", json=body)
    assert created.status_code == 201, created.text
    swarm_id = created.json()["id"]
    await poll(api, f"/api/swarms/{swarm_id}/status",
               lambda b: b["status"] == "active" and b["agents"]["total"] == testers)
    return swarm_id


async def test_create_list_and_status_with_the_v1_example(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/swarms", json=V1_CREATE)
    assert response.status_code == 201, response.text
    body = response.json()
    swarm_id = body["id"]
    assert swarm_id.startswith("sw-")
    assert {k: body[k] for k in ("name", "objective", "topology", "status")} == {
        "name": "Microservices Development", "objective": "Build microservices architecture", "topology": "mesh",
        "status": "initializing"}
    assert body["config"] == {"max_agents": 10, "auto_scale": True, "fault_tolerance": "high",
                              "communication_protocol": "async"}
    assert body["created_at"].endswith("Z") and body["progress"] == 0.0

    status = await poll(api, f"/api/swarms/{swarm_id}/status",
                        lambda b: b["agents"]["total"] == 6 and b["tasks"]["total"] == 5)
    assert status["id"] == swarm_id and status["topology"] == "mesh" and status["health"] == "healthy"
    assert status["status"] == "active"
    assert set(status["agents"]) >= {"total", "active", "idle"}  # no "failed": agents have no failed state
    assert set(status["tasks"]) >= {"total", "completed", "in_progress", "pending"}
    assert set(status["performance"]) >= {"throughput", "efficiency", "coordination_overhead"}
    # Nothing samples a swarm's live CPU, memory or network: null rather than invented.
    assert {k: status["resource_usage"][k] for k in ("cpu", "memory", "network")} == {
        "cpu": None, "memory": None, "network": None}
    assert status["last_update"].endswith("Z")

    listed = (await api.get("/api/swarms", params={"limit": 100, "topology": "mesh"})).json()
    mine = next(s for s in listed["swarms"] if s["id"] == swarm_id)
    assert set(mine) >= {"id", "name", "topology", "status", "objective", "agents", "progress", "created_at"}
    assert len(mine["agents"]) == 6 and all(set(a) >= {"id", "role"} for a in mine["agents"])
    assert {a["role"] for a in mine["agents"]} == {"worker"}
    assert listed["pagination"]["limit"] == 100

    # Each agent's own row is written by its own workflow, a moment after the swarm's snapshot lists it.
    agents = await eventually(
        lambda: _json(api.get(f"/api/v2/swarms/{swarm_id}/agents", params={"sort": "name"})),
        lambda body: body["meta"]["pagination"]["totalCount"] == 6, "the six agents' rows", timeout=15)
    assert agents["meta"]["pagination"]["totalCount"] == 6
    assert sorted(a["attributes"]["agentType"] for a in agents["data"]) == [
        "architect", "backend-dev", "backend-dev", "backend-dev", "tester", "tester"]
    assert all(a["relationships"]["swarm"]["data"]["id"] == swarm_id for a in agents["data"])
    tasks = (await api.get(f"/api/v2/swarms/{swarm_id}/tasks", params={"page[size]": 2})).json()
    assert tasks["meta"]["pagination"]["totalCount"] == 5 and len(tasks["data"]) == 2
    assert "next" in tasks["links"]


async def test_create_read_patch_with_the_v2_examples(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v2/swarms", json=V2_CREATE)
    assert response.status_code == 201, response.text
    body = response.json()
    data = body["data"]
    assert data["type"] == "swarm" and data["id"].startswith("sw-")
    assert body["meta"]["location"] == f"/api/v2/swarms/{data['id']}" == data["links"]["self"]
    assert response.headers["location"] == body["meta"]["location"]
    attributes = data["attributes"]
    assert {k: attributes[k] for k in ("name", "topology", "status", "maxAgents", "strategy")} == {
        "name": "AI Research Swarm", "topology": "mesh", "status": "initializing", "maxAgents": 12,
        "strategy": "adaptive"}
    assert attributes["configuration"]["coordinationProtocol"] == "consensus"
    assert attributes["createdAt"].endswith("Z") and attributes["updatedAt"].endswith("Z")

    swarm_id = data["id"]
    detail = await poll(api, f"/api/v2/swarms/{swarm_id}", lambda b: b["data"]["attributes"]["status"] == "active")
    attributes = detail["data"]["attributes"]
    assert attributes["activeAgents"] == 0
    assert attributes["metrics"]["tasksCompleted"] == 0
    assert attributes["metrics"]["avgCompletionTime"] is None and attributes["metrics"]["successRate"] is None
    relationships = detail["data"]["relationships"]
    assert relationships["agents"]["links"]["related"] == f"/api/v2/swarms/{swarm_id}/agents"
    assert relationships["agents"]["meta"] == {"count": 0}
    assert relationships["tasks"]["links"] == {"self": f"/api/v2/swarms/{swarm_id}/relationships/tasks",
                                               "related": f"/api/v2/swarms/{swarm_id}/tasks"}
    linkage = (await api.get(relationships["agents"]["links"]["self"])).json()
    assert linkage["data"] == [] and linkage["meta"] == {"count": 0}

    patch = {"data": {"type": "swarm", "id": swarm_id, "attributes": {"maxAgents": 10, "strategy": "balanced"}}}
    patched = await api.patch(f"/api/v2/swarms/{swarm_id}", json=patch)
    assert patched.status_code == 200, patched.text
    changed = patched.json()["data"]["attributes"]
    assert {k: changed[k] for k in ("name", "topology", "status", "maxAgents", "strategy")} == {
        "name": "AI Research Swarm", "topology": "mesh", "status": "active", "maxAgents": 10, "strategy": "balanced"}
    assert changed["updatedAt"] >= attributes["updatedAt"]

    mismatch = await api.patch(f"/api/v2/swarms/{swarm_id}", json={"data": {**patch["data"], "id": new_id("sw")}})
    assert mismatch.status_code == 409
    # the spec's own validation error example
    invalid = await api.post("/api/v2/swarms", json={"data": {"type": "swarm", "attributes": {"maxAgents": 150}}})
    assert invalid.status_code == 400
    details = {d["field"]: d for d in invalid.json()["error"]["details"]}
    assert details["data.attributes.maxAgents"]["constraint"] == "max"
    assert details["data.attributes.maxAgents"]["value"] == 150
    assert details["data.attributes.name"]["constraint"] == "required"
    wrong = await api.post("/api/v2/swarms", json={"data": {**V2_CREATE["data"], "type": "agent"}})
    assert wrong.status_code == 409

    listed = (await api.get("/api/v2/swarms", params={"filter[status]": "active", "sort": "-createdAt",
                                                      "page[size]": 10})).json()
    assert all(s["attributes"]["status"] == "active" for s in listed["data"])
    assert listed["meta"]["pagination"]["pageSize"] == 10
    assert "filter[status]=active" in listed["links"]["self"]


async def test_control_actions(api: httpx.AsyncClient) -> None:
    swarm_id = await shell_swarm(api, testers=2)
    url = f"/api/swarms/{swarm_id}/control"

    paused = await api.post(url, json={"action": "pause"})
    assert paused.status_code == 200, paused.text
    assert paused.json() == {"swarm_id": swarm_id, "action": "pause", "status": "paused", "result": {}}
    resumed = (await api.post(url, json={"action": "resume"})).json()
    assert resumed["status"] == "active"

    scaled = (await api.post(url, json=V1_SCALE)).json()  # the spec's example
    assert scaled["result"] == {"operation": "add", "agent_type": "backend-dev", "requested": 2, "added": 2}
    await poll(api, f"/api/swarms/{swarm_id}/status", lambda b: b["agents"]["total"] == 4)
    removed = (await api.post(url, json={"action": "scale", "parameters": {"agent_type": "backend-dev", "count": 1,
                                                                           "operation": "remove"}})).json()
    assert removed["result"]["operation"] == "remove" and len(removed["result"]["removed"]) == 1
    await poll(api, f"/api/swarms/{swarm_id}/status", lambda b: b["agents"]["total"] == 3)
    gone = removed["result"]["removed"][0]
    await poll(api, f"/api/agents/{gone}", lambda b: b["status"] == "terminated")

    optimized = (await api.post(url, json={"action": "optimize"})).json()["result"]
    assert set(optimized) == {"topology", "previous_topology", "changed", "measured"}
    assert optimized["previous_topology"] == "star" and optimized["measured"]["agents"] == 3
    too_small = await api.patch(f"/api/v2/swarms/{swarm_id}", json={"data": {"type": "swarm", "attributes": {
        "maxAgents": 2}}})
    assert too_small.status_code == 400
    assert too_small.json()["error"]["details"][0]["field"] == "data.attributes.maxAgents"
    rebalanced = (await api.post(url, json={"action": "rebalance"})).json()
    assert rebalanced["action"] == "rebalance" and rebalanced["result"] == {"agents_asked": []}  # nobody is busy

    broadcast = await api.post(f"/api/swarms/{swarm_id}/broadcast", json=V1_BROADCAST)  # the spec's example
    assert broadcast.status_code == 200, broadcast.text
    assert broadcast.json() == {"swarm_id": swarm_id, "recipients": 3, "message": V1_BROADCAST["message"]}
    testers = await api.post(f"/api/swarms/{swarm_id}/broadcast", json={"message": {"content": "testers only",
                                                                                    "target": "tester"}})
    assert testers.json()["recipients"] == 2

    for body, field in (({"action": "explode"}, "action"),
                        ({"action": "scale", "parameters": {"agent_type": "wizard"}}, "parameters.agent_type"),
                        ({"action": "scale", "parameters": {"agent_type": "tester", "count": 0}}, "parameters.count"),
                        ({"action": "scale", "parameters": {"agent_type": "tester", "operation": "swap"}},
                         "parameters.operation")):
        response = await api.post(url, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["details"][0]["field"] == field
    bad_type = await api.post(url, json={"action": "scale", "parameters": {"agent_type": "wizard"}})
    assert "tester" in bad_type.json()["error"]["details"][0]["allowed"]
    assert (await api.post(f"/api/swarms/{swarm_id}/broadcast", json={"message": {}})).status_code == 400


async def test_start_stop_operations_and_a_shell_task(api: httpx.AsyncClient) -> None:
    swarm_id = await shell_swarm(api, testers=1)

    stopped = await api.post(f"/api/v2/swarms/{swarm_id}/stop", json={"graceful": True, "timeout": 30000})
    assert stopped.status_code == 202, stopped.text
    body = stopped.json()
    operation_id = body["data"]["operationId"]
    assert body["data"]["message"] == "Swarm stopping gracefully" and operation_id.startswith("op-")
    assert body["links"]["status"] == f"/api/v2/operations/{operation_id}" == stopped.headers["location"]
    done = await poll(api, body["links"]["status"], lambda b: b["data"]["attributes"]["status"] != "running")
    attributes = done["data"]["attributes"]
    assert attributes["status"] == "succeeded" and attributes["kind"] == "swarm.stop"
    assert attributes["resourceId"] == swarm_id and attributes["completedAt"].endswith("Z")
    assert done["data"]["links"]["resource"] == f"/api/v2/swarms/{swarm_id}"
    assert (await api.get(f"/api/swarms/{swarm_id}/status")).json()["status"] == "paused"

    # queued while paused, it runs once the swarm starts again
    created = await api.post("/api/v2/tasks", json={"data": {
        "type": "task", "attributes": {"description": "hi from the swarm", "requirements": {"command": "echo hi"}},
        "relationships": {"swarm": {"data": {"type": "swarm", "id": swarm_id}}}}})
    assert created.status_code == 201, created.text
    task_id = created.json()["data"]["id"]
    await poll(api, f"/api/swarms/{swarm_id}/status", lambda b: b["tasks"]["pending"] == 1)

    started = await api.post(f"/api/v2/swarms/{swarm_id}/start")
    assert started.status_code == 202, started.text
    assert started.json()["data"]["message"] == "Swarm starting"
    await poll(api, started.json()["links"]["status"], lambda b: b["data"]["attributes"]["status"] == "succeeded")
    result = await poll(api, f"/api/v2/tasks/{task_id}/results", lambda b: b["data"]["status"] == "completed")
    assert result["data"]["result"]["output"].startswith("hi")
    status = await poll(api, f"/api/swarms/{swarm_id}/status", lambda b: b["tasks"]["completed"] == 1)
    assert status["progress"] == 1.0 and status["status"] == "active"
    # One quick task is no rate: throughput is null (core/rates.py: ≥ 60 s and ≥ 10 tasks), with the window it
    # would have been measured over; the shares are shown.
    performance = status["performance"]
    assert performance["throughput"] is None and performance["efficiency"] is not None
    assert performance["window_tasks"] == 1 and 0 < performance["window"] < 60
    detail = (await api.get(f"/api/v2/swarms/{swarm_id}")).json()["data"]["attributes"]
    assert detail["metrics"]["tasksCompleted"] == 1 and detail["metrics"]["successRate"] == 1.0
    assert isinstance(detail["metrics"]["avgCompletionTime"], float)  # milliseconds

    ungraceful = (await api.post(f"/api/v2/swarms/{swarm_id}/stop", json={"graceful": False})).json()
    assert ungraceful["data"]["message"] == "Swarm stopping"
    assert (await api.post(f"/api/v2/swarms/{swarm_id}/stop", json={"timeout": -1})).status_code == 400


async def test_include_and_delete_with_force(api: httpx.AsyncClient) -> None:
    swarm_id = await shell_swarm(api, testers=1, topology="mesh")
    # nobody has this capability, so the task stays queued
    created = await api.post("/api/tasks", json={"description": "unmatched", "swarm_id": swarm_id,
                                                 "requirements": {"capabilities": ["telepathy"]}})
    task_id = created.json()["id"]
    await poll(api, f"/api/swarms/{swarm_id}/status", lambda b: b["tasks"]["pending"] == 1)

    included = (await api.get(f"/api/v2/swarms/{swarm_id}", params={"include": "agents,tasks"})).json()
    kinds = sorted(item["type"] for item in included["included"])
    assert kinds == ["agent", "task"]
    assert included["data"]["relationships"]["tasks"]["data"] == [{"type": "task", "id": task_id}]
    tasks_linkage = (await api.get(f"/api/v2/swarms/{swarm_id}/relationships/tasks")).json()
    assert tasks_linkage["data"] == [{"type": "task", "id": task_id}] and tasks_linkage["meta"] == {"count": 1}
    agent_ids = [a["id"] for a in included["data"]["relationships"]["agents"]["data"]]
    assert [i["id"] for i in included["included"] if i["type"] == "agent"] == agent_ids
    listed = (await api.get("/api/v2/swarms", params={"include": "agents", "filter[topology]": "mesh",
                                                      "page[size]": 100})).json()
    assert set(agent_ids) <= {i["id"] for i in listed["included"]}
    assert "include=agents" in listed["links"]["self"]
    for url in (f"/api/v2/swarms/{swarm_id}?include=bogus", "/api/v2/swarms?include=bogus"):
        response = await api.get(url)
        assert response.status_code == 400 and response.json()["error"]["details"][0]["field"] == "include"

    busy = await api.delete(f"/api/v2/swarms/{swarm_id}")
    assert busy.status_code == 409 and "force" in busy.json()["error"]["message"]
    forced = await api.delete(f"/api/v2/swarms/{swarm_id}", params={"force": "true"})
    assert forced.status_code == 204 and forced.content == b"", forced.text
    detail = (await api.get(f"/api/v2/swarms/{swarm_id}")).json()["data"]
    assert detail["attributes"]["status"] == "terminated" and detail["attributes"]["terminatedAt"].endswith("Z")
    assert (await api.get(f"/api/swarms/{swarm_id}/status")).json()["health"] == "terminated"
    await poll(api, f"/api/tasks/{task_id}", lambda b: b["status"] == "cancelled")
    await poll(api, f"/api/agents/{agent_ids[0]}", lambda b: b["status"] == "terminated")
    assert (await api.delete(f"/api/v2/swarms/{swarm_id}")).status_code == 204  # already gone: same answer
    for method, path, body in (("POST", f"/api/swarms/{swarm_id}/control", {"action": "pause"}),
                               ("POST", f"/api/swarms/{swarm_id}/broadcast", {"message": {"content": "hello?"}}),
                               ("POST", f"/api/v2/swarms/{swarm_id}/start", None),
                               ("PATCH", f"/api/v2/swarms/{swarm_id}", {"data": {"type": "swarm",
                                                                                 "attributes": {"name": "x"}}})):
        response = await api.request(method, path, **({"json": body} if body else {}))
        assert response.status_code == 409, (method, path, response.text)


async def test_unknown_swarms_and_permissions(app: FastAPI, api: httpx.AsyncClient, viewer_token: str) -> None:
    missing = new_id("sw")
    for method, path, body in (("GET", f"/api/swarms/{missing}/status", None),
                               ("POST", f"/api/swarms/{missing}/control", {"action": "pause"}),
                               ("POST", f"/api/swarms/{missing}/broadcast", {"message": {"content": "hi"}}),
                               ("GET", f"/api/v2/swarms/{missing}", None),
                               ("PATCH", f"/api/v2/swarms/{missing}", {"data": {"type": "swarm"}}),
                               ("DELETE", f"/api/v2/swarms/{missing}", None),
                               ("POST", f"/api/v2/swarms/{missing}/start", None),
                               ("POST", f"/api/v2/swarms/{missing}/stop", None),
                               ("GET", f"/api/v2/swarms/{missing}/agents", None),
                               ("GET", f"/api/v2/swarms/{missing}/tasks", None),
                               ("GET", f"/api/v2/swarms/{missing}/relationships/agents", None),
                               ("GET", f"/api/v2/swarms/{missing}/relationships/tasks", None),
                               ("GET", f"/api/v2/operations/{new_id('op')}", None),
                               ("GET", "/api/v2/swarms/swarm-001", None)):
        response = await api.request(method, path, **({"json": body} if body else {}))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "RESOURCE_NOT_FOUND"
    assert (await api.get(f"/api/swarms/{missing}/status")).json()["error"]["details"] == {"swarm_id": missing}

    swarm_id = (await api.post("/api/v2/swarms", json=V2_CREATE)).json()["data"]["id"]
    async with client_for(app, viewer_token) as viewer:
        assert (await viewer.get("/api/swarms")).status_code == 200
        assert (await viewer.get(f"/api/v2/swarms/{swarm_id}")).status_code == 200
        for method, path, body in (("POST", "/api/swarms", {"name": "x"}), ("POST", "/api/v2/swarms", V2_CREATE),
                                   ("POST", f"/api/swarms/{swarm_id}/control", {"action": "pause"}),
                                   ("POST", f"/api/v2/swarms/{swarm_id}/stop", None),
                                   ("DELETE", f"/api/v2/swarms/{swarm_id}", None)):
            response = await viewer.request(method, path, **({"json": body} if body else {}))
            assert response.status_code == 403, (method, path, response.text)
    async with client_for(app) as anonymous:
        assert (await anonymous.get(f"/api/v2/swarms/{swarm_id}")).status_code == 401


async def test_creating_posts_take_an_idempotency_key(api: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": str(ULID())}
    first = await api.post("/api/v2/swarms", json=V2_CREATE, headers=key)
    again = await api.post("/api/v2/swarms", json=V2_CREATE, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["data"]["id"] == first.json()["data"]["id"]  # one swarm, not two
    assert again.headers["idempotent-replayed"] == "true"
    swarm_id = first.json()["data"]["id"]
    stop_key = {"Idempotency-Key": str(ULID())}
    stopped = await api.post(f"/api/v2/swarms/{swarm_id}/stop", headers=stop_key)
    replayed = await api.post(f"/api/v2/swarms/{swarm_id}/stop", headers=stop_key)
    assert replayed.json()["data"]["operationId"] == stopped.json()["data"]["operationId"]


async def _json(response: Awaitable[httpx.Response]) -> dict:
    return (await response).json()
