"""`/mcp/v1/*` (claude-flow-api.md § MCP Protocol) with the spec's own example bodies: the REST façade over the
same MCP server `/mcp` serves — same tools and schemas, `content` + `metadata` on `tools/call`, the dialect's
error body with the error's status when a tool fails."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI

from tests.support import client_for, poll, token_for

INITIALIZE = {"protocolVersion": "2024.11.5", "capabilities": {"tools": True, "resources": True, "prompts": True},
              "clientInfo": {"name": "claude-code", "version": "1.0.0"}}
CALL = {"name": "swarm_init", "arguments": {"topology": "mesh", "maxAgents": 10}}


async def test_the_spec_examples(api: httpx.AsyncClient) -> None:
    initialized = await api.post("/mcp/v1/initialize", json=INITIALIZE)
    assert initialized.status_code == 200, initialized.text
    body = initialized.json()
    assert body["protocolVersion"] == "2024.11.5"
    assert body["capabilities"] == {"tools": True, "resources": True, "prompts": True}
    assert body["serverInfo"]["name"] == "stellarflow" and body["serverInfo"]["version"]

    tools = {tool["name"]: tool for tool in (await api.post("/mcp/v1/tools/list")).json()["tools"]}
    assert len(tools) == 29  # tests/test_mcp.py names them
    swarm_init = tools["swarm_init"]["inputSchema"]
    assert swarm_init["type"] == "object" and swarm_init["required"] == ["topology"]
    assert swarm_init["properties"]["maxAgents"]["minimum"] == 1 and swarm_init["properties"]["maxAgents"][
        "maximum"] == 100
    assert tools["agent_spawn"]["inputSchema"]["required"] == ["type"]

    called = await api.post("/mcp/v1/tools/call", json=CALL)
    assert called.status_code == 200, called.text
    result = called.json()
    assert result["content"][0] == {"type": "text", "text": result["content"][0]["text"]}
    assert result["content"][0]["text"].startswith("Swarm initialized successfully with mesh topology")
    metadata = result["metadata"]
    assert metadata["topology"] == "mesh" and metadata["max_agents"] == 10 and metadata["created_at"]
    assert json.loads(result["content"][1]["text"]) == metadata and result["isError"] is False
    swarm_id = metadata["swarm_id"]
    assert (await api.get(f"/api/swarms/{swarm_id}/status")).json()["topology"] == "mesh"
    listed = await poll(api, "/api/swarms?topology=mesh&limit=100",
                        lambda b: swarm_id in {item["id"] for item in b["swarms"]})
    assert next(item for item in listed["swarms"] if item["id"] == swarm_id)["config"]["max_agents"] == 10

    resources = (await api.post("/mcp/v1/resources/list")).json()
    assert f"stellarflow://swarms/{swarm_id}" in {item["uri"] for item in resources["resources"]}
    assert "stellarflow://runs/{id}/logs" in {item["uriTemplate"] for item in resources["resourceTemplates"]}
    read = (await api.post("/mcp/v1/resources/read", json={"uri": f"stellarflow://swarms/{swarm_id}"})).json()
    assert read["contents"][0]["mimeType"] == "application/json"
    assert json.loads(read["contents"][0]["text"])["state"]["spec"]["id"] == swarm_id

    system = (await api.post("/mcp/v1/tools/call", json={"name": "system_status"})).json()["metadata"]
    assert system["status"] == "healthy" and system["components"]["database"]["status"] == "healthy"  # an admin
    assert system["report"]["version"] and system["report"]["uptime_s"] >= 0 and system["report"]["cluster"]

    prompts = (await api.post("/mcp/v1/prompts/list")).json()["prompts"]
    assert {p["name"] for p in prompts} == {"plan_swarm", "write_workflow"}
    prompt = (await api.post("/mcp/v1/prompts/get", json={"name": "plan_swarm",
                                                           "arguments": {"objective": "Index the docs"}})).json()
    assert "Index the docs" in prompt["messages"][0]["content"]["text"] and prompt["messages"][0]["role"] == "user"


async def test_errors_keep_their_status_and_code(app: FastAPI, api: httpx.AsyncClient, anon_api: httpx.AsyncClient) \
        -> None:
    assert (await anon_api.post("/mcp/v1/tools/list")).status_code == 401
    async with client_for(app, token_for("viewer")) as viewer:
        forbidden = await viewer.post("/mcp/v1/tools/call", json=CALL)
        assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "FORBIDDEN"
        assert (await viewer.post("/mcp/v1/tools/list")).status_code == 200  # listing needs only a sign-in
    unknown = await api.post("/mcp/v1/tools/call", json={"name": "no_such_tool", "arguments": {}})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "RESOURCE_NOT_FOUND"
    invalid = await api.post("/mcp/v1/tools/call", json={"name": "swarm_init", "arguments": {"maxAgents": 0}})
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "VALIDATION_ERROR"
    assert {d["field"] for d in invalid.json()["error"]["details"]} == {"topology", "maxAgents"}
    missing = await api.post("/mcp/v1/resources/read", json={"uri": "stellarflow://runs/run-nope"})
    assert missing.status_code == 404
    no_objective = await api.post("/mcp/v1/prompts/get", json={"name": "plan_swarm"})
    assert no_objective.status_code == 400
