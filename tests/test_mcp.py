"""The MCP server driven by the official SDK's own client (`mcp.ClientSession`) over both transports — Streamable
HTTP (the real app under uvicorn, `/mcp`) and stdio (`stellarflow mcp` as a subprocess on this session's database
and Temporal) — against the live stack: every tool is called and its effect checked through REST, resources are
listed and read, prompts fetched, and a viewer gets permission errors as tool errors carrying our code."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from fastapi import FastAPI
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from temporalio.client import Client
from ulid import ULID

from core.auth import api_keys
from core.auth.users import UserInfo
from core.settings import get_settings
from tests.conftest import ROOT
from tests.fakes.github import FakeGitHub
from tests.support import bearer, client_for, poll, shared_user, token_for, wait_for_run, wait_for_step
from tests.test_github import REPOSITORY, github  # noqa: F401  (the fake GitHub fixture)
from tests.test_neural import samples

TOOLS = {"swarm_init", "swarm_status", "swarm_control", "agent_spawn", "agent_list", "task_create", "task_assign",
         "task_status", "task_result", "task_cancel", "memory_store", "memory_get", "memory_search", "workflow_list",
         "workflow_validate", "workflow_run", "run_status", "run_logs", "run_approve", "system_status",
         "orchestrate", "orchestration_status", "orchestration_cancel", "github_analyze", "github_analysis_status",
         "github_pr_enhance", "neural_train", "neural_training_status", "neural_predict"}
GATED = {"steps": [{"id": "build", "action": "execute-command", "parameters": {"command": "echo built"}},
                   {"id": "gate", "action": "approval", "dependsOn": ["build"],
                    "parameters": {"message": "Ship it?", "allowSelfApproval": True}}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def mcp_url(app: FastAPI) -> AsyncIterator[str]:
    """The session's app (its lifespan, which runs the MCP session manager, is already open) under uvicorn."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def http_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers=bearer(token), timeout=30) as http, \
            streamable_http_client(url, http_client=http) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def stdio_session(temporal_client: Client, credential: str) -> AsyncIterator[ClientSession]:
    """`stellarflow mcp` on this session's data dir, database (DATABASE_URL on the PostgreSQL half) and Temporal."""
    env = {**os.environ, "STELLARFLOW_API_KEY": credential,
           "TEMPORAL_ADDRESS": temporal_client.service_client.config.target_host}
    command = Path(sys.executable).parent / "stellarflow"  # the console script of the venv running the tests
    params = StdioServerParameters(command=str(command), args=["mcp"], env=env, cwd=str(ROOT))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, /, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert json.loads(result.content[-1].text) == result.structured_content  # the same answer, as text too
    return result.structured_content


async def refused(session: ClientSession, tool: str, /, **arguments: Any) -> dict[str, Any]:
    """A tool error (never a success with an error string), carrying our error code."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    error = result.structured_content["error"]
    assert result.content[0].text.startswith(error["code"])
    return error


async def read(session: ClientSession, uri: str) -> dict[str, Any]:
    result = await session.read_resource(uri)
    assert result.contents[0].mime_type == "application/json"
    return json.loads(result.contents[0].text)


async def walk_every_tool(session: ClientSession, api: httpx.AsyncClient, me: UserInfo) -> None:
    """Each tool against the live stack as the developer `me` (whose REST client is `api`), checked through REST."""
    listed = (await session.list_tools()).tools
    assert {tool.name for tool in listed} == TOOLS
    # every tool declares its output, and the SDK's client checks each result below against it
    assert all(tool.output_schema and tool.output_schema["type"] == "object" for tool in listed)
    swarm_schema = next(tool for tool in listed if tool.name == "swarm_init").input_schema
    assert swarm_schema["required"] == ["topology"] and "maxAgents" in swarm_schema["properties"]

    # memory
    namespace = f"mcp-{str(ULID()).lower()}"
    stored = await call(session, "memory_store", namespace=namespace, key="notes/plan", value={"step": 1},
                        tags=["mcp"])
    assert stored["owner"] == me.id and stored["resource"] == f"stellarflow://memory/{namespace}/notes/plan"
    rest = await api.get("/api/memory/notes/plan", params={"namespace": namespace})
    assert rest.status_code == 200 and rest.json()["value"] == {"step": 1}
    assert (await call(session, "memory_get", namespace=namespace, key="notes/plan"))["value"] == {"step": 1}
    found = await call(session, "memory_search", namespace=namespace, tags=["mcp"])
    assert [hit["key"] for hit in found["hits"]] == ["notes/plan"]

    # workflows and runs
    assert (await call(session, "workflow_validate", definition={"name": "ok", **GATED}))["valid"] is True
    invalid = await call(session, "workflow_validate", definition={"name": "bad", "steps": []})
    assert invalid["valid"] is False and invalid["errors"]
    name = f"mcp gated {ULID()}"
    created = await api.post("/api/v2/workflows", json={"name": name, **GATED})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["data"]["id"]
    listed_workflows = await call(session, "workflow_list", name=name)
    assert [item["id"] for item in listed_workflows["workflows"]] == [workflow_id]
    started = await call(session, "workflow_run", workflow_id=workflow_id)
    run_id = started["run_id"]
    assert started["resource"] == f"stellarflow://runs/{run_id}"
    await wait_for_step(api, run_id, "gate", lambda step: (step.get("approval") or {}).get("status") == "waiting")
    assert (await call(session, "run_status", run_id=run_id))["status"] == "running"
    approved = await call(session, "run_approve", run_id=run_id, step_id="gate", comment="via MCP")
    assert approved["approval"]["status"] == "approved"
    run = await wait_for_run(api, run_id)
    assert run["status"] == "succeeded" and run["startedBy"]["username"] == me.username
    logs = await call(session, "run_logs", run_id=run_id)
    assert logs["events"] and next(s for s in logs["steps"] if s["step_id"] == "build")["stdout"] == "built\n"

    # agents and tasks
    agent = await call(session, "agent_spawn", type="tester", config={"executor": "shell"})
    agent_id = agent["agent_id"]
    assert (await api.get(f"/api/agents/{agent_id}")).json()["owner"] == agent["spec"]["owner"]
    await poll(api, f"/api/agents/{agent_id}", lambda body: body["status"] == "idle")
    mine = await call(session, "agent_list", type="tester", limit=100)
    assert agent_id in [item["spec"]["id"] for item in mine["agents"]]
    task_id = (await call(session, "task_create", description="say hi", requirements={"command": "echo hi"}))["task_id"]
    assert (await api.get(f"/api/tasks/{task_id}")).status_code == 200
    assigned = await call(session, "task_assign", task_id=task_id, agent_id=agent_id)
    assert assigned["queue_position"] == 0
    await poll(api, f"/api/tasks/{task_id}", lambda body: body["status"] == "completed")
    assert (await call(session, "task_status", task_id=task_id))["status"] == "completed"
    result = await call(session, "task_result", task_id=task_id)
    assert result["result"]["output"].strip() == "hi" and result["redacted"] == []
    doomed = (await call(session, "task_create", description="never runs"))["task_id"]
    assert (await call(session, "task_cancel", task_id=doomed))["status"] == "cancelled"
    assert (await api.get(f"/api/tasks/{doomed}")).json()["status"] == "cancelled"

    # swarms
    swarm = await call(session, "swarm_init", topology="mesh", maxAgents=3, objective="MCP test")
    swarm_id = swarm["swarm_id"]
    assert swarm["max_agents"] == 3 and swarm["resource"] == f"stellarflow://swarms/{swarm_id}"
    assert (await api.get(f"/api/swarms/{swarm_id}/status")).status_code == 200
    await poll(api, f"/api/swarms/{swarm_id}/status", lambda body: body["status"] == "active")
    assert (await call(session, "swarm_status", swarm_id=swarm_id))["state"]["spec"]["id"] == swarm_id
    assert (await call(session, "swarm_control", swarm_id=swarm_id, action="pause"))["status"] == "paused"
    assert (await api.get(f"/api/swarms/{swarm_id}/status")).json()["status"] == "paused"

    health = await call(session, "system_status")
    assert health == {"status": "healthy"}  # components are for admins, as on the health endpoints

    # errors are tool errors with our code
    missing = await refused(session, "task_status", task_id="tk-" + "0" * 26)
    assert missing["code"] == "RESOURCE_NOT_FOUND"
    invalid_args = await refused(session, "swarm_init", topology="pyramid")
    assert invalid_args["code"] == "VALIDATION_ERROR" and invalid_args["details"][0]["field"] == "topology"

    # resources: templates, a listing, and each kind read
    templates = {t.uri_template for t in (await session.list_resource_templates()).resource_templates}
    assert templates == {"stellarflow://runs/{id}", "stellarflow://runs/{id}/logs", "stellarflow://workflows/{id}",
                         "stellarflow://memory/{namespace}/{key}", "stellarflow://swarms/{id}",
                         "stellarflow://orchestrations/{id}", "stellarflow://training/{id}",
                         "stellarflow://github/analysis/{id}", "stellarflow://github/enhancements/{id}"}
    uris = {resource.uri for resource in (await session.list_resources()).resources}
    assert {f"stellarflow://runs/{run_id}", f"stellarflow://workflows/{workflow_id}",
            f"stellarflow://swarms/{swarm_id}"} <= uris
    assert (await read(session, f"stellarflow://runs/{run_id}"))["status"] == "succeeded"
    assert (await read(session, f"stellarflow://runs/{run_id}/logs"))["events"]
    assert (await read(session, f"stellarflow://workflows/{workflow_id}"))["name"] == name
    assert (await read(session, f"stellarflow://memory/{namespace}/notes/plan"))["value"] == {"step": 1}
    assert (await read(session, f"stellarflow://swarms/{swarm_id}"))["state"]["status"] == "paused"
    with pytest.raises(MCPError) as unknown:
        await session.read_resource("stellarflow://nothing/here")
    assert unknown.value.error.data["code"] == "RESOURCE_NOT_FOUND"

    # prompts
    assert {p.name for p in (await session.list_prompts()).prompts} == {"plan_swarm", "write_workflow"}
    plan = await session.get_prompt("plan_swarm", {"objective": "Ship a REST API with tests"})
    text = plan.messages[0].content.text
    assert "Ship a REST API with tests" in text and "swarm_init" in text
    write = await session.get_prompt("write_workflow", {"goal": "run the tests nightly"})
    assert "execute-command" in write.messages[0].content.text  # the DSL reference is embedded


async def test_every_tool_resource_and_prompt_over_streamable_http(app: FastAPI, mcp_url: str) -> None:
    user = shared_user("developer")
    token = token_for(user=user)
    async with client_for(app, token) as api, http_session(mcp_url, token) as session:
        await walk_every_tool(session, api, user)


async def test_every_tool_resource_and_prompt_over_stdio(app: FastAPI, temporal_client: Client) -> None:
    user = shared_user("developer")
    created = api_keys.create_key(get_settings(), user.id, "mcp stdio")
    async with client_for(app, token_for(user=user)) as api, stdio_session(temporal_client, created.key) as session:
        await walk_every_tool(session, api, user)
        api_keys.revoke_key(user.id, created.info.id)  # checked on every request, as over REST: refused at once
        with pytest.raises(MCPError) as revoked:
            await session.call_tool("system_status", {})
        assert revoked.value.error.data["code"] == "UNAUTHORIZED"


async def test_orchestration_github_and_neural_tools(app: FastAPI, mcp_url: str,
                                                     github: FakeGitHub) -> None:  # noqa: F811
    """The long-work tools answer an id and a resource at once; their effect is checked through dialect 2."""
    user = shared_user("developer")
    token = token_for(user=user)
    async with client_for(app, token) as api, http_session(mcp_url, token) as session:
        # an orchestration whose only task runs long enough to be cancelled
        started = await call(session, "orchestrate", task="wait a while", agent_config={"executor": "shell"},
                             phases=[{"name": "wait", "agents": ["tester"], "duration_s": 120,
                                      "requirements": {"command": "sleep 60"}}])
        orchestration_id = started["orchestration_id"]
        assert started["resource"] == f"stellarflow://orchestrations/{orchestration_id}"
        assert [phase["name"] for phase in started["phases"]] == ["wait"] and started["redacted"] == []
        rest = f"/api/v2/orchestrations/{orchestration_id}"
        await poll(api, rest, lambda b: b["data"]["phases"][0]["tasks"][0]["status"] == "running", timeout=60)
        status = await call(session, "orchestration_status", orchestration_id=orchestration_id)
        assert status["status"] == "running" and status["spec"]["owner"] == user.id
        assert (await read(session, started["resource"]))["spec"]["id"] == orchestration_id
        cancelled = await call(session, "orchestration_cancel", orchestration_id=orchestration_id)
        assert cancelled["status"] == "cancelled" and cancelled["cancelled_by"] == user.username
        assert (await api.get(rest)).json()["data"]["status"] == "cancelled"
        again = await refused(session, "orchestration_cancel", orchestration_id=orchestration_id)
        assert again["code"] == "CONFLICT"

        # a repository analysis and a PR's security review on the fake GitHub
        analysis = await call(session, "github_analyze", repository=REPOSITORY, analysis_types=["security"])
        analysis_id = analysis["analysis_id"]
        assert analysis["resource"] == f"stellarflow://github/analysis/{analysis_id}"
        done = (await poll(api, f"/api/v2/github/analysis/{analysis_id}",
                           lambda b: b["data"]["status"] in ("completed", "failed"), timeout=120,
                           interval=0.3))["data"]
        assert done["status"] == "completed", done
        result = await call(session, "github_analysis_status", analysis_id=analysis_id)
        findings = {(f["file"], f["line"], f["tool"]) for phase in result["phases"] for tool in phase["tools"]
                    for f in tool["findings"]}
        assert ("app/insecure.py", 5, "bandit") in findings and result["summary"] == done["summary"]
        assert (await read(session, analysis["resource"]))["status"] == "completed"
        enhancing = await call(session, "github_pr_enhance", repository=REPOSITORY, pr_number=7)
        enhance_id = enhancing["enhancement_id"]
        assert enhancing["resource"] == f"stellarflow://github/enhancements/{enhance_id}"
        enhanced = (await poll(api, f"/api/v2/github/enhancements/{enhance_id}",
                               lambda b: b["data"]["status"] in ("completed", "failed"), timeout=120,
                               interval=0.3))["data"]
        assert enhanced["status"] == "completed" and enhanced["enhancements"]["security"]["status"] == "done"
        assert len(github.pulls[(REPOSITORY, 7)].reviews) == 1  # the review was posted on the PR
        assert (await read(session, enhancing["resource"]))["parts"]["securityReview"]["status"] == "done"

        # a training, then a prediction with its model
        training = await call(session, "neural_train", pattern_type="coordination", samples=samples(200),
                              validation_split=0.25, config={"epochs": 20, "learning_rate": 0.01})
        training_id = training["training_id"]
        assert training["resource"] == f"stellarflow://training/{training_id}" and training["total_epochs"] == 20
        trained = (await poll(api, f"/api/v2/neural/training/{training_id}",
                              lambda b: b["data"]["status"] != "training", timeout=90, interval=0.2))["data"]
        assert trained["status"] == "completed", trained
        status = await call(session, "neural_training_status", training_id=training_id)
        assert status["status"] == "completed" and status["version"] == 1
        assert (await read(session, training["resource"]))["current_epoch"] == 20
        features = {"load": 0.8, "agents": 0.5, "color": "red"}
        predicted = await call(session, "neural_predict", model_id=training["model_id"], input=features)
        over_rest = (await api.post("/api/v2/neural/predict", json={"modelId": training["model_id"],
                                                                    "input": features})).json()["data"]
        assert predicted["values"]["strategy"] == over_rest["prediction"]["strategy"] == "wide"
        assert predicted["model"]["version"] == 1
        unknown = await refused(session, "neural_training_status", training_id="train-" + "0" * 26)
        assert unknown["code"] == "RESOURCE_NOT_FOUND"


async def test_a_viewer_gets_permission_errors_and_no_credential_gets_401(app: FastAPI, mcp_url: str) -> None:
    async with http_session(mcp_url, token_for("viewer")) as session:
        for name, arguments in (("swarm_init", {"topology": "mesh"}), ("memory_store", {"key": "k", "value": 1}),
                                ("workflow_run", {"workflow_id": "anything"}),
                                ("orchestrate", {"task": "t", "phases": [{"name": "p", "agents": ["tester"]}]}),
                                ("github_analyze", {"repository": "octo-org/planted"}),
                                ("github_pr_enhance", {"repository": "octo-org/planted", "pr_number": 7}),
                                ("neural_train", {"pattern_type": "p", "samples": samples(10)})):
            error = await refused(session, name, **arguments)
            assert error["code"] == "FORBIDDEN" and "Permission" in error["message"]
        assert (await call(session, "agent_list"))["pagination"]["page"] == 1  # reads are allowed
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    async with httpx.AsyncClient() as http:
        for headers in ({}, bearer("not-a-token"), bearer("sf_" + "x" * 43)):
            response = await http.post(mcp_url, json=initialize,
                                       headers={**headers, "Accept": "application/json, text/event-stream"})
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"]["code"] == "UNAUTHORIZED"
        # stateless: no server-initiated stream to GET, no session to DELETE — the spec's 405, never a hanging stream
        for method in ("GET", "DELETE"):
            response = await http.request(method, mcp_url, headers={**bearer(token_for("viewer")),
                                                                    "Accept": "application/json, text/event-stream"})
            assert response.status_code == 405 and response.headers["allow"] == "POST"
