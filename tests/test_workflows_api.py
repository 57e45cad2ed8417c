"""`/api/v2/workflows` and `/api/v2/runs` as `stellarflow-api.md` specifies them, starting with its own
`POST /api/v2/workflows` example body."""

from __future__ import annotations

import asyncio
import copy

import httpx
from temporalio.client import Client

from tests.support import cmd, start, step_of, wait_for_run

SEED = {
    "name": "CI/CD Pipeline",
    "description": "Automated testing and deployment workflow",
    "triggers": [{"type": "github", "event": "push", "branches": ["main", "develop"]}],
    "steps": [
        {"id": "step-1", "name": "Run Tests", "action": "execute-command",
         "parameters": {"command": "npm test", "timeout": 300000}},
        {"id": "step-2", "name": "Build Application", "action": "execute-command",
         "parameters": {"command": "npm run build"}, "dependsOn": ["step-1"]},
        {"id": "step-3", "name": "Deploy to Staging", "action": "deploy",
         "parameters": {"environment": "staging", "strategy": "blue-green"}, "dependsOn": ["step-2"]},
    ],
    "notifications": {"channels": ["email", "slack"], "events": ["started", "failed", "completed"]},
}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "content-security-policy": "default-src 'self'",
}


async def _count(api: httpx.AsyncClient) -> int:
    return (await api.get("/api/v2/workflows")).json()["meta"]["pagination"]["totalCount"]


async def test_create_with_the_seed_body(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v2/workflows", json=SEED)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["id"].startswith("wf-")
    assert data["name"] == "CI/CD Pipeline"
    assert data["status"] == "active"
    assert data["version"] == 1
    assert data["nextRun"] is None
    assert data["stats"] == {"totalRuns": 0, "successRate": None, "avgDuration": None}
    assert data["createdAt"].endswith("Z")
    assert response.headers["location"] == f"/api/v2/workflows/{data['id']}"
    assert response.headers["x-request-id"].startswith("req-")
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value

    fetched = (await api.get(f"/api/v2/workflows/{data['id']}")).json()["data"]
    assert fetched["definition"]["steps"][0]["parameters"] == {"command": "npm test", "timeout": 300000}


async def test_request_id_is_echoed(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v2/workflows", headers={"X-Request-ID": "req-abc123def456"})
    assert response.headers["x-request-id"] == "req-abc123def456"


async def test_bad_definitions_are_rejected_and_nothing_is_created(api: httpx.AsyncClient) -> None:
    before = await _count(api)
    cyclic = {"name": "cycle", "steps": [cmd("a", "true", dependsOn=["b"]), cmd("b", "true", dependsOn=["a"])]}
    response = await api.post("/api/v2/workflows", json=cyclic)
    assert response.status_code == 400
    error = response.json()["error"]
    assert response.json()["success"] is False
    assert error["code"] == "VALIDATION_ERROR"
    assert any(d["constraint"] == "cycle" and "a -> b -> a" in d["message"] for d in error["details"])

    for bad in (
        {"steps": [cmd("a", "true")]},  # no name
        {"name": "x", "steps": [{"id": "a", "action": "teleport"}]},
        {"name": "x", "steps": [cmd("a", "true", dependsOn=["ghost"])]},
        {"name": "x", "steps": [cmd("a", "true"), cmd("a", "true")]},
        {"name": "x", "steps": [{"id": "a", "action": "execute-command", "parameters": {"cmd": "typo"}}]},
        {"name": "x", "steps": [cmd("a", "echo {{ inputs.nope }}")]},
        {"name": "x", "steps": [cmd("a", "echo {{ unclosed")]},
        {"name": "x", "unknownKey": 1, "steps": [cmd("a", "true")]},
    ):
        response = await api.post("/api/v2/workflows", json=bad)
        assert response.status_code == 400, (bad, response.text)
        details = response.json()["error"]["details"]
        assert details and all({"field", "constraint", "message"} <= set(d) for d in details)
    missing_name = (await api.post("/api/v2/workflows", json={"steps": [cmd("a", "true")]})).json()
    assert {"field": "name", "constraint": "required"}.items() <= missing_name["error"]["details"][0].items()
    assert await _count(api) == before


async def test_non_json_body_is_a_clear_error(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v2/workflows", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_unknown_ids_are_404(api: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/api/v2/workflows/wf-nope"), ("DELETE", "/api/v2/workflows/wf-nope"),
                         ("POST", "/api/v2/workflows/wf-nope/runs"), ("GET", "/api/v2/workflows/wf-nope/runs"),
                         ("GET", "/api/v2/runs/run-nope"), ("POST", "/api/v2/runs/run-nope/cancel"),
                         ("GET", "/api/v2/runs/run-nope/logs")):
        response = await api.request(method, path)
        assert response.status_code == 404, (method, path)
        error = response.json()["error"]
        assert error["code"] == "RESOURCE_NOT_FOUND"
        assert error["id"].endswith("-nope")


async def test_list_paginates_with_links(api: httpx.AsyncClient) -> None:
    for index in range(3):
        await api.post("/api/v2/workflows", json={"name": f"paged-{index}", "steps": [cmd("a", "true")]})
    total = await _count(api)
    page = (await api.get("/api/v2/workflows", params={"page[size]": 2, "sort": "-createdAt"})).json()
    assert len(page["data"]) == 2
    assert page["meta"]["pagination"] == {"page": 1, "pageSize": 2, "pageCount": (total + 1) // 2,
                                          "totalCount": total}
    assert page["links"]["self"].startswith("/api/v2/workflows?")
    assert "page[number]=2" in page["links"]["next"]
    second = (await api.get(page["links"]["next"])).json()
    assert {w["id"] for w in second["data"]}.isdisjoint({w["id"] for w in page["data"]})
    named = (await api.get("/api/v2/workflows", params={"filter[name]": "paged-1"})).json()
    assert [w["name"] for w in named["data"]] == ["paged-1"]

    too_big = await api.get("/api/v2/workflows", params={"page[size]": 101})
    assert too_big.status_code == 400
    assert too_big.json()["error"]["details"][0]["field"] == "page[size]"
    bad_sort = await api.get("/api/v2/workflows", params={"sort": "-shoeSize"})
    assert bad_sort.status_code == 400
    assert bad_sort.json()["error"]["details"][0]["field"] == "sort"


async def test_put_creates_a_version_and_runs_keep_theirs(api: httpx.AsyncClient) -> None:
    v1 = {"name": "versioned", "steps": [cmd("say", "echo one")]}
    wf = (await api.post("/api/v2/workflows", json=v1)).json()["data"]
    first_run = (await api.post(f"/api/v2/workflows/{wf['id']}/runs", json={})).json()["data"]

    v2 = copy.deepcopy(v1)
    v2["steps"][0]["parameters"]["command"] = "echo two"
    updated = await api.put(f"/api/v2/workflows/{wf['id']}", json=v2)
    assert updated.status_code == 200
    assert updated.json()["data"]["version"] == 2
    unchanged = await api.put(f"/api/v2/workflows/{wf['id']}", json=v2)
    assert unchanged.json()["data"]["version"] == 2  # same content, same version

    second_run = (await api.post(f"/api/v2/workflows/{wf['id']}/runs", json={})).json()["data"]
    one = await wait_for_run(api, first_run["id"])
    two = await wait_for_run(api, second_run["id"])
    assert (one["version"], step_of(one, "say")["outputs"]["stdout"]) == (1, "one\n")
    assert (two["version"], step_of(two, "say")["outputs"]["stdout"]) == (2, "two\n")
    pinned = await api.post(f"/api/v2/workflows/{wf['id']}/runs", json={"version": 1})
    assert pinned.json()["data"]["version"] == 1
    await wait_for_run(api, pinned.json()["data"]["id"])

    stats = (await api.get(f"/api/v2/workflows/{wf['id']}")).json()["data"]["stats"]
    assert stats["totalRuns"] == 3
    assert stats["successRate"] == 1.0
    assert stats["avgDuration"] > 0


async def test_delete(api: httpx.AsyncClient) -> None:
    wf = (await api.post("/api/v2/workflows", json={"name": "doomed", "steps": [cmd("a", "true")]})).json()["data"]
    response = await api.delete(f"/api/v2/workflows/{wf['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await api.get(f"/api/v2/workflows/{wf['id']}")).status_code == 404
    assert (await api.post(f"/api/v2/workflows/{wf['id']}/runs", json={})).status_code == 404


async def test_start_run_returns_202_with_links(api: httpx.AsyncClient) -> None:
    wf = (await api.post("/api/v2/workflows", json={"name": "linked", "steps": [cmd("a", "echo hi")]})).json()["data"]
    response = await api.post(f"/api/v2/workflows/{wf['id']}/runs", json={"inputs": {}})
    assert response.status_code == 202
    body = response.json()
    run = body["data"]
    assert run["id"].startswith("run-")
    assert run["workflowId"] == wf["id"]
    assert body["links"]["self"] == f"/api/v2/runs/{run['id']}"
    assert body["links"]["temporalUi"].endswith(f"/namespaces/default/workflows/{run['id']}")
    assert body["links"]["events"] == f"/api/v2/runs/{run['id']}/logs"
    done = await wait_for_run(api, run["id"])
    assert done["durationMs"] is not None and done["durationMs"] >= 0

    runs = (await api.get(f"/api/v2/workflows/{wf['id']}/runs")).json()
    assert [r["id"] for r in runs["data"]] == [run["id"]]
    assert runs["meta"]["pagination"]["totalCount"] == 1
    logs = (await api.get(f"/api/v2/runs/{run['id']}/logs")).json()["data"]
    assert logs["steps"] == [{"stepId": "a", "status": "succeeded", "attempts": 1, "exitCode": 0,
                              "stdout": "hi\n", "stderr": "", "truncated": False}]
    seqs = [e["seq"] for e in logs["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e["type"] for e in logs["events"]] == ["run.started", "step.started", "step.succeeded", "run.succeeded"]


async def test_idempotency_key_gives_back_the_same_run(api: httpx.AsyncClient) -> None:
    wf = (await api.post("/api/v2/workflows", json={"name": "idem", "steps": [cmd("a", "true")]})).json()["data"]
    path = f"/api/v2/workflows/{wf['id']}/runs"
    headers = {"Idempotency-Key": "deploy-2026-11-23"}
    first = await api.post(path, json={"inputs": {}}, headers=headers)
    again = await api.post(path, json={"inputs": {}}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.headers["idempotent-replayed"] == "true"
    different = await api.post(path, json={"inputs": {"x": 1}}, headers=headers)
    assert different.status_code == 422
    assert different.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    other_key = await api.post(path, json={"inputs": {}}, headers={"Idempotency-Key": "another"})
    assert other_key.json()["data"]["id"] != first.json()["data"]["id"]
    assert (await api.get(path)).json()["meta"]["pagination"]["totalCount"] == 2
    await wait_for_run(api, first.json()["data"]["id"])
    await wait_for_run(api, other_key.json()["data"]["id"])


async def test_run_inputs_are_validated(api: httpx.AsyncClient) -> None:
    wf = (await api.post("/api/v2/workflows", json={
        "name": "typed", "inputs": {"count": {"type": "number", "required": True}},
        "steps": [cmd("a", "echo {{ inputs.count }}")],
    })).json()["data"]
    path = f"/api/v2/workflows/{wf['id']}/runs"
    missing = await api.post(path, json={"inputs": {}})
    assert missing.status_code == 400
    assert missing.json()["error"]["details"][0]["field"] == "inputs.count"
    wrong = await api.post(path, json={"inputs": {"count": "many"}})
    assert wrong.status_code == 400
    unknown_field = await api.post(path, json={"inputz": {}})
    assert unknown_field.status_code == 400
    assert unknown_field.json()["error"]["details"][0]["field"] == "inputz"
    assert (await api.get(path)).json()["meta"]["pagination"]["totalCount"] == 0


async def test_runs_are_visible_in_temporal_by_search_attribute(api: httpx.AsyncClient,
                                                                 temporal_client: Client) -> None:
    wf = (await api.post("/api/v2/workflows", json={"name": "findable", "steps": [cmd("a", "true")]})).json()["data"]
    run_id = await start_existing(api, wf["id"])
    await wait_for_run(api, run_id)
    found: list[str] = []
    for _ in range(60):  # visibility is eventually consistent (~1.5 s here)
        found = [w.id async for w in temporal_client.list_workflows(
            f"WorkflowType='PipelineWorkflow' AND StellarflowWorkflowId='{wf['id']}'")]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [run_id]


async def start_existing(api: httpx.AsyncClient, workflow_id: str) -> str:
    return (await api.post(f"/api/v2/workflows/{workflow_id}/runs", json={})).json()["data"]["id"]


async def test_definitions_directory_is_loaded_at_start(api: httpx.AsyncClient) -> None:
    for stem in ("ci", "fan-out", "approval"):
        response = await api.get(f"/api/v2/workflows/{stem}")
        assert response.status_code == 200, stem
        data = response.json()["data"]
        assert data["source"] == f"file:{stem}.yaml"
        assert data["contentHash"].startswith("sha256:")


async def test_health_needs_no_token_and_checks_components(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v2/system/health")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "healthy"
    assert data["components"]["database"]["status"] == "healthy"
    assert data["components"]["temporal"]["status"] == "healthy"


async def test_seed_run_fails_cleanly_without_node_project(api: httpx.AsyncClient) -> None:
    """The seed's own workflow runs: its `npm test` fails in an empty workspace and the rest is skipped."""
    run = await wait_for_run(api, await start(api, SEED), timeout=60)
    assert run["status"] == "failed"
    assert step_of(run, "step-1")["status"] == "failed"
    assert step_of(run, "step-3")["status"] == "skipped"


async def test_get_run_can_wait_for_the_end(api: httpx.AsyncClient) -> None:
    run_id = await start(api, {"name": "waitable", "steps": [cmd("nap", "sleep 0.5; echo rested")]})
    response = await api.get(f"/api/v2/runs/{run_id}", params={"wait": 20})
    assert response.status_code == 200
    run = response.json()["data"]
    assert run["status"] == "succeeded"  # one call, no polling
    assert step_of(run, "nap")["outputs"]["stdout"] == "rested\n"
    quick = await api.get(f"/api/v2/runs/{run_id}", params={"wait": 0})
    assert quick.json()["data"]["status"] == "succeeded"
    too_long = await api.get(f"/api/v2/runs/{run_id}", params={"wait": 61})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["details"][0]["field"] == "wait"


async def test_openapi_documents_the_errors_we_really_return(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            # Validation errors are 400 in both dialects; a 422 is only Idempotency-Key reuse, where it is taken.
            if "422" in responses:
                assert "IDEMPOTENCY_KEY_REUSED" in responses["422"]["description"], (method, path)
                assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"]), (method, path)
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), (method, path)
    get_one = schema["paths"]["/api/v2/workflows/{workflow_id}"]["get"]["responses"]
    assert get_one["404"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorV2"
    assert "429" not in schema["paths"]["/api/v2/system/health"]["get"]["responses"]
    bad = await api.post("/api/v2/workflows", json={"steps": []})
    assert bad.status_code == 400 and set(bad.json()) == {"success", "error"}
