"""Artifacts: a step's declared files stored with size and sha256, downloaded (streamed) under the run's read
rule, fetched by later steps through `{{ artifacts.<step>.<name> }}`, kept by re-runs, and deleted by the retention
sweep once expired."""

from __future__ import annotations

import hashlib

import httpx
from temporalio.client import Client

from core.artifacts.schedule import SCHEDULE_ID
from tests.support import cmd, run_to_end, step_of, token_for


async def test_artifacts_round_trip_with_the_owner_rules(api: httpx.AsyncClient) -> None:
    starter = {"Authorization": f"Bearer {token_for('developer')}"}
    created = await api.post("/api/v2/workflows", headers=starter, json={"name": "build", "steps": [
        {**cmd("build", "mkdir -p dist && printf 'wheel-bytes' > dist/app.whl && echo report > report.txt"),
         "artifacts": {"paths": ["dist/*.whl", "report.txt", "missing/*"], "retention": "1h"}},
        cmd("use", 'echo "{{ artifacts.build["app.whl"] }}"', dependsOn=["build"]),
    ]})
    workflow_id = created.json()["data"]["id"]
    started = await api.post(f"/api/v2/workflows/{workflow_id}/runs", json={}, headers=starter)
    from tests.support import wait_for_run

    run = await wait_for_run(api, started.json()["data"]["id"])
    assert run["status"] == "succeeded", run
    stored = step_of(run, "build")["artifacts"]
    assert set(stored) == {"app.whl", "report.txt"}
    wheel = stored["app.whl"]
    assert wheel["size"] == len(b"wheel-bytes") and wheel["sha256"] == hashlib.sha256(b"wheel-bytes").hexdigest()
    assert step_of(run, "use")["outputs"]["stdout"].strip() == wheel["url"]
    assert wheel["url"].endswith(f"/api/v2/artifacts/{wheel['id']}")

    own = await api.get(f"/api/v2/artifacts/{wheel['id']}", headers=starter)
    assert own.status_code == 200 and own.content == b"wheel-bytes"
    assert own.headers["x-checksum-sha256"] == wheel["sha256"] and "app.whl" in own.headers["content-disposition"]
    assert (await api.get(f"/api/v2/artifacts/{wheel['id']}")).status_code == 200  # an admin
    other = {"Authorization": f"Bearer {token_for('viewer')}"}
    assert (await api.get(f"/api/v2/artifacts/{wheel['id']}", headers=other)).status_code == 403
    assert (await api.get(f"/api/v2/runs/{run['id']}/artifacts", headers=other)).status_code == 403
    assert step_of((await api.get(f"/api/v2/runs/{run['id']}", headers=other)).json()["data"],
                   "build")["artifacts"] is None
    listed = (await api.get(f"/api/v2/runs/{run['id']}/artifacts", headers=starter)).json()["data"]
    assert {item["name"] for item in listed} == {"app.whl", "report.txt"}
    assert (await api.get("/api/v2/artifacts/art-00000000000000000000000000")).status_code == 404

    # a re-run from `use` keeps the build's artifacts
    again = await api.post(f"/api/v2/runs/{run['id']}/rerun", json={"fromStep": "use"}, headers=starter)
    rerun = await wait_for_run(api, again.json()["data"]["id"])
    assert step_of(rerun, "build")["reusedFrom"] == run["id"]
    assert step_of(rerun, "use")["outputs"]["stdout"].strip() == wheel["url"]


async def test_expired_artifacts_are_swept(api: httpx.AsyncClient, temporal_client: Client) -> None:
    run = await run_to_end(api, {"name": "short-lived", "steps": [
        {**cmd("make", "echo x > tmp.txt"), "artifacts": {"paths": ["tmp.txt"], "retention": "1ms"}}]})
    artifact = step_of(run, "make")["artifacts"]["tmp.txt"]
    from core.artifacts.service import sweep_expired

    assert sweep_expired() >= 1
    assert (await api.get(f"/api/v2/artifacts/{artifact['id']}")).status_code == 404
    # the worker keeps a retention schedule (created on worker start by `stellarflow worker`)
    from core.artifacts.schedule import ensure_schedule
    from core.settings import get_settings

    await ensure_schedule(temporal_client, get_settings())
    described = await temporal_client.get_schedule_handle(SCHEDULE_ID).describe()
    assert described.schedule.action.workflow == "ArtifactSweepWorkflow"


async def test_a_failed_step_keeps_artifacts_only_when_asked(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {"name": "logs", "steps": [
        {**cmd("always", "echo log > build.log; exit 1"), "artifacts": {"paths": ["build.log"], "when": "always"}},
        {**cmd("success", "echo log > other.log; exit 1"), "artifacts": {"paths": ["other.log"]}},
    ]})
    assert set(step_of(run, "always")["artifacts"]) == {"build.log"}
    assert step_of(run, "success").get("artifacts") is None
