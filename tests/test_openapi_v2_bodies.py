"""What dialect 2's swarm, agent, task, memory and orchestration routes answer validates against what the OpenAPI
document says they answer (issue 13: an SDK built from the document must read these bodies) — on the paths the
schema fuzzing (test_schema_fuzz.py) seldom reaches: resources that exist, a task that ran on an agent,
`include=`, relationships, metrics, a finished orchestration. Each answer's status must be documented, its
required headers present and its body valid against the documented schema."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from ulid import ULID

from tests.support import poll

jsonschema = pytest.importorskip("jsonschema")  # with schemathesis, a test extra
from referencing import Registry, Resource  # noqa: E402
from referencing.jsonschema import DRAFT202012  # noqa: E402

pytestmark = pytest.mark.database("sqlite", reason="checks answers against the OpenAPI document, not storage")

SHELL = {"executor": "shell"}


class Documented:
    """Checks answers against `app.openapi()`: `await documented(api.get(url), "/api/v2/x/{id}")` → the body."""

    def __init__(self, app: FastAPI) -> None:
        self.spec = app.openapi()
        self.registry = Registry().with_resource("urn:openapi",
                                                 Resource(contents=self.spec, specification=DRAFT202012))
        self.checked: set[str] = set()

    async def __call__(self, sent: Any, path: str, status: int | None = None) -> Any:
        response: httpx.Response = await sent
        method = response.request.method.lower()
        label = f"{method.upper()} {path} -> {response.status_code}"
        if status is not None:
            assert response.status_code == status, f"{label}: {response.text}"
        documented = self.spec["paths"][path][method]["responses"]
        assert str(response.status_code) in documented, f"{label} is not documented"
        entry = documented[str(response.status_code)]
        for header, declared in (entry.get("headers") or {}).items():
            assert not declared.get("required") or header in response.headers, f"{label}: no {header} header"
        body = response.json() if response.content else None
        if "content" in entry:
            schema = entry["content"]["application/json"]["schema"]
            root = {"$ref": "urn:openapi#" + schema["$ref"][1:]} if "$ref" in schema else schema
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in
                      jsonschema.Draft202012Validator(root, registry=self.registry).iter_errors(body)]
            assert not errors, f"{label} differs from the document:\n" + "\n".join(errors)
        self.checked.add(label)
        return body


async def test_swarm_agent_task_and_memory_answers_are_what_the_document_says(app: FastAPI,
                                                                                api: httpx.AsyncClient) -> None:
    documented = Documented(app)
    created = await documented(api.post("/api/v2/swarms", json={"data": {"type": "swarm", "attributes": {
        "name": f"documented-{ULID()}", "topology": "star", "agentConfig": SHELL,
        "initialAgents": [{"type": "tester", "count": 1}]}}}), "/api/v2/swarms", 201)
    swarm_id = created["data"]["id"]
    swarm = f"/api/v2/swarms/{swarm_id}"
    await poll(api, swarm, lambda b: b["data"]["attributes"]["activeAgents"] == 1
               and b["data"]["attributes"]["status"] == "active")

    task = await documented(api.post("/api/v2/tasks", json={"data": {
        "type": "task", "attributes": {"description": "documented", "requirements": {"command": "echo hi"}},
        "relationships": {"swarm": {"data": {"type": "swarm", "id": swarm_id}}}}}), "/api/v2/tasks", 201)
    task_id = task["data"]["id"]
    await poll(api, f"/api/v2/tasks/{task_id}/results", lambda b: b["data"]["status"] == "completed")
    results = await documented(api.get(f"/api/v2/tasks/{task_id}/results"), "/api/v2/tasks/{task_id}/results", 200)
    assert results["data"]["result"]["output"].startswith("hi") and results["data"]["agent"] is not None
    read = await documented(api.get(f"/api/v2/tasks/{task_id}"), "/api/v2/tasks/{task_id}", 200)
    agent_id = read["data"]["relationships"]["assignedAgent"]["data"]["id"]

    listed = await documented(api.get("/api/v2/swarms", params={"include": "agents,tasks"}), "/api/v2/swarms", 200)
    assert {r["type"] for r in listed["included"]} >= {"agent", "task"}
    detail = await documented(api.get(swarm, params={"include": "agents,tasks"}), "/api/v2/swarms/{swarm_id}", 200)
    assert detail["data"]["attributes"]["metrics"]["tasksCompleted"] == 1
    await documented(api.patch(swarm, json={"data": {"type": "swarm", "id": swarm_id,
                                                     "attributes": {"maxAgents": 3}}}),
                     "/api/v2/swarms/{swarm_id}", 200)
    for name in ("agents", "tasks"):
        linkage = await documented(api.get(f"{swarm}/relationships/{name}"),
                                   f"/api/v2/swarms/{{swarm_id}}/relationships/{name}", 200)
        assert linkage["meta"]["count"] >= 1
        await documented(api.get(f"{swarm}/{name}"), f"/api/v2/swarms/{{swarm_id}}/{name}", 200)

    agents = await documented(api.get("/api/v2/agents", params={"filter[swarmId]": swarm_id}), "/api/v2/agents", 200)
    assert [a["id"] for a in agents["data"]] == [agent_id]
    await documented(api.get(f"/api/v2/agents/{agent_id}"), "/api/v2/agents/{agent_id}", 200)
    for groups in (None, "performance"):
        figures = await documented(api.get(f"/api/v2/agents/{agent_id}/metrics",
                                           params={"metrics": groups} if groups else None),
                                   "/api/v2/agents/{agent_id}/metrics", 200)
    assert list(figures["data"]["metrics"]) == ["performance"]
    agent = await documented(api.post("/api/v2/agents", json={"data": {"type": "agent", "attributes": {
        "agentType": "tester", "configuration": SHELL}}}), "/api/v2/agents", 201)
    assert agent["data"]["relationships"]["swarm"]["data"] is None

    for action in ("stop", "start"):
        started = await documented(api.post(f"{swarm}/{action}"), f"/api/v2/swarms/{{swarm_id}}/{action}", 202)
        await poll(api, started["links"]["status"], lambda b: b["data"]["attributes"]["status"] == "succeeded")
    await documented(api.delete(swarm), "/api/v2/swarms/{swarm_id}", 204)
    await documented(api.post(f"{swarm}/start"), "/api/v2/swarms/{swarm_id}/start", 409)

    namespace = f"documented-{ULID()}".lower()
    await documented(api.post("/api/v2/memory", json={"namespace": namespace, "key": "decisions", "ttl": 3600,
                                                      "value": {"database": "PostgreSQL"}, "tags": ["backend"]}),
                     "/api/v2/memory", 201)
    await documented(api.post("/api/v2/memory", json={"namespace": namespace, "key": "decisions", "value": 2},
                              headers={"If-Match": '"7"'}), "/api/v2/memory", 412)
    found = await documented(api.get("/api/v2/memory/search", params={"q": "PostgreSQL", "namespace": namespace}),
                             "/api/v2/memory/search", 200)
    assert found["meta"]["totalResults"] == 1
    assert len(documented.checked) >= 20


async def test_an_orchestration_answers_what_the_document_says(app: FastAPI, api: httpx.AsyncClient) -> None:
    documented = Documented(app)
    accepted = await documented(api.post("/api/v2/tasks/orchestrate", json={
        "task": "say hi", "agentConfig": SHELL,
        "requirements": {"phases": [{"name": "only", "agents": ["tester"], "requirements": {"command": "echo hi"}}]},
    }), "/api/v2/tasks/orchestrate", 202)
    path = "/api/v2/orchestrations/{orchestration_id}"
    url = accepted["links"]["status"]
    await poll(api, url, lambda b: b["data"]["status"] in ("completed", "failed", "cancelled"), timeout=60)
    done = await documented(api.get(url), path, 200)
    assert done["data"]["status"] == "completed" and done["data"]["phases"][0]["tasks"][0]["output"].startswith("hi")
    await documented(api.post(f"{url}/cancel"), f"{path}/cancel", 409)
