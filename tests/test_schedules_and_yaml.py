"""Schedule triggers as Temporal Schedules (a one-second `every:` against the dev server), their control routes,
and definitions sent as YAML."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import Client

from core.schedules.service import schedule_id
from tests.support import cmd, token_for


async def _runs_of(api: httpx.AsyncClient, workflow_id: str) -> list[dict]:
    return (await api.get(f"/api/v2/workflows/{workflow_id}/runs", params={"page[size]": 100})).json()["data"]


async def test_a_schedule_fires_and_is_controlled(api: httpx.AsyncClient, temporal_client: Client) -> None:
    definition = {"name": "every second", "inputs": {"who": {"type": "string", "required": True}},
                  "triggers": [{"type": "schedule", "every": "1s", "inputs": {"who": "clock"}}],
                  "steps": [cmd("tick", 'echo "{{ inputs.who }} {{ trigger.type }}"')]}
    response = await api.put("/api/v2/workflows/ticker", json=definition)
    assert response.status_code == 200, response.text
    handle = temporal_client.get_schedule_handle(schedule_id("ticker", 0))
    assert (await handle.describe()).schedule.spec.intervals[0].every == timedelta(seconds=1)

    for _ in range(300):
        runs = await _runs_of(api, "ticker")
        if any(r["status"] == "succeeded" for r in runs):
            break
        await asyncio.sleep(0.1)
    done = next(r for r in runs if r["status"] == "succeeded")
    assert done["id"].startswith("run-ticker-s0-") and done["trigger"]["type"] == "schedule"
    full = (await api.get(f"/api/v2/runs/{done['id']}")).json()["data"]
    assert full["steps"][0]["outputs"]["stdout"].strip() == "clock schedule"
    assert full["startedBy"]["id"] is not None and full["inputs"] == {"who": "clock"}

    info = (await api.get("/api/v2/workflows/ticker")).json()["data"]
    assert info["nextRun"] is not None and info["lastRun"] is not None
    views = (await api.get("/api/v2/workflows/ticker/schedules")).json()["data"]
    assert views[0]["scheduleId"] == schedule_id("ticker", 0) and views[0]["every"] == 1000

    paused = await api.post("/api/v2/workflows/ticker/schedules/0/pause")
    assert paused.status_code == 200 and paused.json()["data"]["paused"] is True
    assert (await handle.describe()).schedule.state.paused
    # a new version keeps the pause and moves the schedule to the new version
    await api.put("/api/v2/workflows/ticker", json={**definition, "description": "v2"})
    described = await handle.describe()
    assert described.schedule.state.paused
    (arg,) = await temporal_client.data_converter.decode(described.schedule.action.args)
    assert arg["version"] == 2
    await asyncio.sleep(1.0)  # a run that started just before the pause has recorded itself by now
    before = len(await _runs_of(api, "ticker"))
    await asyncio.sleep(2.5)
    assert len(await _runs_of(api, "ticker")) == before  # paused: nothing fires
    now = datetime.now(UTC)
    backfill = await api.post("/api/v2/workflows/ticker/schedules/0/backfill",
                              json={"start": (now - timedelta(seconds=3)).isoformat(), "end": now.isoformat(),
                                    "overlap": "allow-all"})
    assert backfill.status_code == 200, backfill.text
    assert (await api.post("/api/v2/workflows/ticker/schedules/0/resume")).json()["data"]["paused"] is False
    assert (await api.post("/api/v2/workflows/ticker/schedules/5/pause")).status_code == 404
    other = await api.post("/api/v2/workflows/ticker/schedules/0/pause",
                           headers={"Authorization": f"Bearer {token_for('developer')}"})
    assert other.status_code == 403

    # dropping the trigger, then deleting the workflow, deletes the schedule
    await api.put("/api/v2/workflows/ticker", json={**definition, "triggers": []})
    assert not [s async for s in await temporal_client.list_schedules() if s.id == schedule_id("ticker", 0)]
    assert (await api.get("/api/v2/workflows/ticker")).json()["data"]["nextRun"] is None


async def test_cron_schedules_with_timezone_and_overlap(api: httpx.AsyncClient, temporal_client: Client) -> None:
    definition = {"name": "nightly", "triggers": [
        {"type": "schedule", "cron": "0 3 * * 1-5", "timezone": "Europe/Berlin", "overlap": "buffer",
         "catchupWindow": "10m"}], "steps": [cmd("a", "true")]}
    created = await api.post("/api/v2/workflows", json=definition)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["data"]["id"]
    assert created.json()["data"]["nextRun"] is not None
    described = await temporal_client.get_schedule_handle(schedule_id(workflow_id, 0)).describe()
    assert described.schedule.spec.time_zone_name == "Europe/Berlin"
    assert described.schedule.policy.catchup_window == timedelta(minutes=10)
    assert described.schedule.policy.overlap.name == "BUFFER_ONE"
    triggered = await api.post(f"/api/v2/workflows/{workflow_id}/schedules/0/trigger")  # not due for hours: now
    assert triggered.status_code == 200, triggered.text
    for _ in range(300):
        runs = await _runs_of(api, workflow_id)
        if runs:
            break
        await asyncio.sleep(0.1)
    assert runs and runs[0]["trigger"]["type"] == "schedule"
    assert (await api.delete(f"/api/v2/workflows/{workflow_id}")).status_code == 204
    assert not [s async for s in await temporal_client.list_schedules() if s.id == schedule_id(workflow_id, 0)]


async def test_bad_schedule_triggers_are_refused(api: httpx.AsyncClient) -> None:
    for trigger, word in [({"type": "schedule", "cron": "0 3 * * *", "every": "1m"}, "not both"),
                          ({"type": "schedule", "cron": "nonsense"}, "5 fields"),
                          ({"type": "schedule", "cron": "0 3 * * *", "timezone": "Mars/Base"}, "timezone"),
                          ({"type": "schedule", "every": "1m", "overlap": "sometimes"}, "overlap")]:
        response = await api.post("/api/v2/workflows", json={"name": "x", "triggers": [trigger],
                                                              "steps": [cmd("a", "true")]})
        assert response.status_code == 400, (trigger, response.text)
        assert word in response.text, response.text
    missing = await api.post("/api/v2/workflows", json={
        "name": "x", "inputs": {"n": {"type": "string", "required": True}},
        "triggers": [{"type": "schedule", "every": "1m"}], "steps": [cmd("a", "true")]})
    assert missing.status_code == 400 and "triggers[0].inputs.n" in missing.text


YAML = """\
name: from yaml
triggers:
  - {type: manual}
steps:
  - id: hello
    action: execute-command
    parameters:
      command: echo hello
"""


async def test_definitions_are_accepted_as_yaml(api: httpx.AsyncClient) -> None:
    for media in ("application/yaml", "text/yaml"):
        created = await api.post("/api/v2/workflows", content=YAML, headers={"content-type": media})
        assert created.status_code == 201, created.text
        assert created.json()["data"]["name"] == "from yaml"
    put = await api.put("/api/v2/workflows/yaml-put", content=YAML.replace("hello\n", "bye\n"),
                        headers={"content-type": "application/yaml; charset=utf-8"})
    assert put.status_code == 200
    assert put.json()["data"]["definition"]["steps"][0]["parameters"]["command"] == "echo bye"
    broken = YAML + "  - id: hello\n    action: exec-command\n"
    bad = await api.post("/api/v2/workflows", content=broken, headers={"content-type": "text/yaml"})
    assert bad.status_code == 400
    details = bad.json()["error"]["details"]
    assert any(d.get("line") == 10 for d in details), details
    syntax = await api.post("/api/v2/workflows", content="name: [oops\n", headers={"content-type": "text/yaml"})
    assert syntax.status_code == 400 and syntax.json()["error"]["details"][0]["constraint"] == "yaml_syntax"
    wrong = await api.post("/api/v2/workflows", content=YAML, headers={"content-type": "text/plain"})
    assert wrong.status_code == 415
    assert "application/json" in wrong.text and "application/yaml" in wrong.text and "text/yaml" in wrong.text
