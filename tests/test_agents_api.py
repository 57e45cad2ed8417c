"""Agents over REST in both dialects (`/api/agents`, `/api/v2/agents`), starting with the specs' own example
bodies: create/read/update/terminate shapes, health, metrics by timeframe, list filters/sort/pages, and the
400/401/403/404/409 answers.
Agents run tasks with the `shell` executor (agent `config: {"executor": "shell"}`, task `requirements.command`)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from ulid import ULID

from core.ids import new_id
from tests.support import client_for, poll

V1_CREATE = {"type": "coder", "name": "Coder-Beta", "capabilities": ["code_generation", "testing"],
             "config": {"model": "claude-3-sonnet", "temperature": 0.7, "max_tokens": 4000},
             "metadata": {"project": "api-v2", "team": "backend"}}
V1_UPDATE = {"name": "Coder-Alpha-Updated", "config": {"temperature": 0.8, "max_tokens": 5000},
             "metadata": {"priority": "high"}}
V2_SWARM = {"data": {"type": "swarm", "attributes": {
    "name": "AI Research Swarm", "topology": "mesh", "maxAgents": 12, "strategy": "adaptive",
    "configuration": {"enableCoordination": True, "enableLearning": True, "persistenceMode": "auto",
                      "coordinationProtocol": "consensus"}}}}


def v2_agent(swarm_id: str) -> dict:
    return {"data": {
        "type": "agent",
        "attributes": {"name": "Security Analyzer", "agentType": "analyst",
                       "capabilities": ["security-audit", "vulnerability-scan", "compliance"],
                       "configuration": {"autoAssign": True, "priority": "high", "cognitivePattern": "critical"}},
        "relationships": {"swarm": {"data": {"type": "swarm", "id": swarm_id}}},
    }}


async def shell_agent(api: httpx.AsyncClient, **extra: object) -> str:
    created = await api.post("/api/agents", json={"type": "tester", "config": {"executor": "shell"}, **extra})
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_create_read_update_with_the_v1_examples(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/agents", json=V1_CREATE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("ag-")
    assert response.headers["location"] == f"/api/agents/{body['id']}"
    assert {k: body[k] for k in ("name", "type", "status", "capabilities", "config", "metadata")} == {
        "name": "Coder-Beta", "type": "coder", "status": "initializing",
        "capabilities": ["code_generation", "testing"],
        "config": {"model": "claude-3-sonnet", "temperature": 0.7, "max_tokens": 4000},
        "metadata": {"project": "api-v2", "team": "backend"}}
    assert body["created_at"].endswith("Z")

    detail = (await api.get(f"/api/agents/{body['id']}")).json()
    assert {"id", "name", "type", "status", "capabilities", "current_task", "history", "metrics", "config",
            "created_at", "updated_at"} <= set(detail)
    assert detail["current_task"] is None and detail["history"] == []
    # nothing finished yet: rates and averages are null, never a made-up figure
    assert detail["metrics"] == {"tasks_completed": 0, "tasks_failed": 0, "tasks_cancelled": 0, "success_rate": None,
                                 "average_time": None, "resource_usage": {"cpu": None, "memory": None}}

    updated = await api.put(f"/api/agents/{body['id']}", json=V1_UPDATE)
    assert updated.status_code == 200, updated.text
    changed = updated.json()
    assert changed["name"] == "Coder-Alpha-Updated"
    assert changed["config"] == {"model": "claude-3-sonnet", "temperature": 0.8, "max_tokens": 5000}  # merged
    assert changed["metadata"] == {"project": "api-v2", "team": "backend", "priority": "high"}
    assert (await api.get(f"/api/agents/{body['id']}")).json()["name"] == "Coder-Alpha-Updated"


async def test_create_into_a_swarm_with_the_v2_example(api: httpx.AsyncClient) -> None:
    swarm = await api.post("/api/v2/swarms", json=V2_SWARM)
    assert swarm.status_code == 201, swarm.text
    swarm_id = swarm.json()["data"]["id"]

    response = await api.post("/api/v2/agents", json=v2_agent(swarm_id))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["id"].startswith("ag-") and data["type"] == "agent"
    assert body["meta"]["location"] == f"/api/v2/agents/{data['id']}" == data["links"]["self"]
    attributes = data["attributes"]
    assert {k: attributes[k] for k in ("name", "agentType", "status", "capabilities")} == {
        "name": "Security Analyzer", "agentType": "analyst", "status": "initializing",
        "capabilities": ["security-audit", "vulnerability-scan", "compliance"]}
    assert attributes["configuration"]["cognitivePattern"] == "critical"
    assert attributes["createdAt"].endswith("Z")
    assert data["relationships"]["swarm"] == {"data": {"type": "swarm", "id": swarm_id}}
    assert data["relationships"]["currentTask"] == {"data": None}

    fetched = (await api.get(f"/api/v2/agents/{data['id']}")).json()["data"]
    assert fetched["attributes"]["metrics"] == {"tasksCompleted": 0, "tasksFailed": 0, "avgResponseTime": None,
                                                "successRate": None}
    detail = (await api.get(f"/api/v2/swarms/{swarm_id}")).json()["data"]
    assert {"type": "agent", "id": data["id"]} in detail["relationships"]["agents"]["data"]
    listed = (await api.get("/api/v2/agents", params={"filter[swarmId]": swarm_id})).json()
    assert [a["id"] for a in listed["data"]] == [data["id"]]
    assert listed["meta"]["totalCount"] == 1 == listed["meta"]["pagination"]["totalCount"]


async def test_validation_errors_name_the_field(api: httpx.AsyncClient) -> None:
    unknown = await api.post("/api/agents", json={"type": "wizard"})
    assert unknown.status_code == 400
    detail = unknown.json()["error"]["details"][0]
    assert detail["field"] == "type" and detail["constraint"] == "enum"
    assert "coder" in detail["allowed"] and "coder" in detail["message"]

    unknown_v2 = await api.post("/api/v2/agents", json={"data": {"type": "agent", "attributes": {"agentType": "x"}}})
    assert unknown_v2.status_code == 400
    assert unknown_v2.json()["error"]["details"][0]["field"] == "data.attributes.agentType"
    assert "researcher" in unknown_v2.json()["error"]["details"][0]["allowed"]

    cases = [
        ({}, "type", "required"),
        ({"type": "coder", "colour": "red"}, "colour", "unknown_field"),
        ({"type": "coder", "config": {"executor": "teleport"}}, "config.executor", "enum"),
        ({"type": "coder", "config": {"api_key": "sk-secret"}}, "config.api_key", "forbidden"),
        ({"type": "coder", "name": ""}, "name", "minLength"),
    ]
    for body, field, constraint in cases:
        response = await api.post("/api/agents", json=body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert {"field": field, "constraint": constraint}.items() <= error["details"][0].items(), (body, error)
        assert "sk-secret" not in response.text

    extra = await api.post("/api/v2/agents", json={"data": {"type": "agent", "attributes": {
        "agentType": "coder", "mood": "happy"}}})
    assert extra.status_code == 400
    assert extra.json()["error"]["details"][0]["field"] == "data.attributes.mood"
    wrong_type = await api.post("/api/v2/agents",
                                json={"data": {"type": "swarm", "attributes": {"agentType": "coder"}}})
    assert wrong_type.status_code == 409 and wrong_type.json()["error"]["code"] == "CONFLICT"
    no_swarm = await api.post("/api/v2/agents", json={"data": {"type": "agent", "attributes": {"agentType": "coder"},
                                                               "relationships": {"swarm": {"data": {
                                                                   "type": "swarm", "id": new_id("sw")}}}}})
    assert no_swarm.status_code == 404 and no_swarm.json()["error"]["resource"] == "swarm"


async def test_unknown_agents_are_404(api: httpx.AsyncClient) -> None:
    missing, task_id = new_id("ag"), new_id("tk")
    for method, path in (("GET", f"/api/agents/{missing}"), ("PUT", f"/api/agents/{missing}"),
                         ("DELETE", f"/api/agents/{missing}"), ("GET", f"/api/agents/{missing}/health"),
                         ("GET", f"/api/v2/agents/{missing}"), ("GET", f"/api/v2/agents/{missing}/metrics"),
                         ("GET", "/api/agents/agent-123"), ("GET", f"/api/agents/{task_id}")):
        response = await api.request(method, path, **({"json": {}} if method == "PUT" else {}))
        assert response.status_code == 404, (method, path, response.text)
        body = response.json()
        error = body["error"]
        assert error["code"] == "RESOURCE_NOT_FOUND"
        assert ("success" in body) == path.startswith("/api/v2")


async def test_lists_filter_sort_and_page_in_both_dialects(api: httpx.AsyncClient) -> None:
    tag = str(ULID()).lower()
    ids = []
    for name in ("charlie", "alpha", "bravo"):
        created = await api.post("/api/agents", json={"type": "documenter", "name": f"{tag}-{name}",
                                                      "metadata": {"tag": tag}})
        ids.append(created.json()["id"])
    await api.post("/api/agents", json={"type": "optimizer", "name": f"{tag}-delta"})

    page = (await api.get("/api/agents", params={"type": "documenter", "sort": "name", "order": "asc",
                                                 "limit": 2})).json()
    assert page["pagination"]["limit"] == 2 and page["pagination"]["total"] >= 3
    walked, cursor = [], None
    while True:
        params = {"type": "documenter", "sort": "name", "order": "asc", "limit": 2}
        body = (await api.get("/api/agents", params={**params, **({"cursor": cursor} if cursor else {})})).json()
        walked += [a["name"] for a in body["agents"]]
        assert all(set(a) >= {"id", "current_task", "metrics", "created_at"} for a in body["agents"])
        cursor = body["nextCursor"]
        if not cursor:
            break
    mine = [name for name in walked if name.startswith(tag)]
    assert mine == [f"{tag}-alpha", f"{tag}-bravo", f"{tag}-charlie"]
    assert walked == sorted(walked)
    assert all(a["type"] == "documenter" for a in page["agents"])
    seen = 0
    for status in ("initializing", "idle"):  # in this order: an agent only moves forward, so one of them counts it
        body = (await api.get("/api/agents", params={"status": status, "type": "optimizer"})).json()
        assert all(a["status"] == status for a in body["agents"])
        seen += sum(1 for a in body["agents"] if a["name"] == f"{tag}-delta")
    assert seen >= 1

    v2 = (await api.get("/api/v2/agents", params={"filter[type]": "documenter", "sort": "-name",
                                                  "page[size]": 100})).json()
    names = [a["attributes"]["name"] for a in v2["data"]]
    assert names == sorted(names, reverse=True)
    assert {f"{tag}-alpha", f"{tag}-bravo", f"{tag}-charlie"} <= set(names)
    small = (await api.get("/api/v2/agents", params={"filter[type]": "documenter", "page[size]": 1})).json()
    assert len(small["data"]) == 1 and "next" in small["links"] and "filter[type]=documenter" in small["links"]["next"]

    for url, params, field in (("/api/agents", {"colour": "red"}, "colour"), ("/api/agents", {"sort": "mood"}, "sort"),
                               ("/api/v2/agents", {"filter[mood]": "x"}, "filter[mood]"),
                               ("/api/v2/agents", {"page[size]": 101}, "page[size]")):
        response = await api.get(url, params=params)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"][0]["field"] == field


async def test_viewers_read_but_do_not_change(app: FastAPI, api: httpx.AsyncClient, viewer_token: str) -> None:
    agent_id = (await api.post("/api/agents", json={"type": "coder"})).json()["id"]
    async with client_for(app, viewer_token) as viewer:
        assert (await viewer.get("/api/agents")).status_code == 200
        assert (await viewer.get(f"/api/agents/{agent_id}")).status_code == 200
        assert (await viewer.get(f"/api/v2/agents/{agent_id}/metrics")).status_code == 200
        for method, path, body in (("POST", "/api/agents", {"type": "coder"}),
                                   ("PUT", f"/api/agents/{agent_id}", {"name": "x"}),
                                   ("DELETE", f"/api/agents/{agent_id}", None),
                                   ("POST", "/api/v2/agents", {"data": {"type": "agent",
                                                                        "attributes": {"agentType": "coder"}}})):
            response = await viewer.request(method, path, **({"json": body} if body else {}))
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "FORBIDDEN"
    async with client_for(app) as anonymous:
        response = await anonymous.get("/api/agents")
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


async def test_metrics_timeframe_is_checked(api: httpx.AsyncClient) -> None:
    agent_id = (await api.post("/api/agents", json={"type": "coder"})).json()["id"]
    body = (await api.get(f"/api/v2/agents/{agent_id}/metrics", params={"timeframe": "7d"})).json()["data"]
    assert body["agentId"] == agent_id and body["timeframe"] == "7d"
    assert body["metrics"]["performance"] == {"tasksCompleted": 0, "tasksFailed": 0, "avgCompletionTime": None,
                                              "successRate": None}
    assert body["metrics"]["coordination"]["coordinationScore"] is None  # nothing measures it: null, not invented
    assert body["timeline"] == []
    only = (await api.get(f"/api/v2/agents/{agent_id}/metrics", params={"metrics": "resource"})).json()["data"]
    assert set(only["metrics"]) == {"resource"}
    for params, field in (({"timeframe": "2w"}, "timeframe"), ({"metrics": "vibes"}, "metrics")):
        response = await api.get(f"/api/v2/agents/{agent_id}/metrics", params=params)
        assert response.status_code == 400 and response.json()["error"]["details"][0]["field"] == field


async def test_a_shell_agent_runs_a_task_and_is_terminated(api: httpx.AsyncClient) -> None:
    agent_id = await shell_agent(api, name="runner")
    await poll(api, f"/api/agents/{agent_id}", lambda b: b["status"] == "idle")
    health = (await api.get(f"/api/agents/{agent_id}/health")).json()
    assert health["agent_id"] == agent_id and health["status"] == "healthy"
    assert set(health["checks"]) == {"memory", "cpu", "connectivity", "task_queue"}
    assert health["metrics"]["queue_size"] == 0 and health["metrics"]["uptime"] >= 0
    assert health["last_heartbeat"].endswith("Z")

    task_id = (await api.post("/api/tasks", json={"description": "say hi",
                                                  "requirements": {"command": "echo hi"}})).json()["id"]
    assigned = await api.post(f"/api/tasks/{task_id}/assign", json={"agent_id": agent_id})
    assert assigned.status_code == 200, assigned.text
    await poll(api, f"/api/tasks/{task_id}", lambda b: b["status"] == "completed")

    detail = await poll(api, f"/api/agents/{agent_id}", lambda b: b["metrics"]["tasks_completed"] == 1)
    assert detail["status"] == "idle" and detail["current_task"] is None
    entry = detail["history"][0]
    assert entry["task_id"] == task_id and entry["result"] == "success"
    assert isinstance(entry["duration"], float) and 0 < entry["duration"] < 30  # seconds
    assert detail["metrics"]["success_rate"] == 1.0
    assert detail["metrics"]["average_time"] == pytest.approx(entry["duration"], abs=0.002)

    metrics = (await api.get(f"/api/v2/agents/{agent_id}/metrics", params={"timeframe": "1h"})).json()["data"]
    performance = metrics["metrics"]["performance"]
    assert performance["tasksCompleted"] == 1 and performance["successRate"] == 1.0
    assert performance["avgCompletionTime"] == pytest.approx(entry["duration"] * 1000, abs=2)  # milliseconds
    assert [point["tasksCompleted"] for point in metrics["timeline"]] == [1]
    assert metrics["timeline"][0]["timestamp"].endswith("Z")
    assert metrics["metrics"]["coordination"]["messagesReceived"] >= 1  # the assignment
    listed = (await api.get("/api/agents", params={"name": "runner", "status": "idle"}))
    assert listed.status_code == 400  # name is not a filter: sort by it instead

    terminated = await api.delete(f"/api/agents/{agent_id}")
    assert terminated.status_code == 200, terminated.text
    body = terminated.json()
    assert body == {"message": "Agent terminated successfully", "agent_id": agent_id, "final_status": "terminated",
                    "terminated_at": body["terminated_at"]}
    assert body["terminated_at"].endswith("Z")
    assert (await api.delete(f"/api/agents/{agent_id}")).json() == body  # again: the same answer
    assert (await api.put(f"/api/agents/{agent_id}", json={"name": "zombie"})).status_code == 409
    assert (await api.get(f"/api/agents/{agent_id}/health")).json()["status"] == "unhealthy"
    late = await api.post(f"/api/tasks/{(await api.post('/api/tasks', json={})).json()['id']}/assign",
                          json={"agent_id": agent_id})
    assert late.status_code == 409
