"""Reconciliation rebuilds the projections from Temporal: rows deleted (a restore from an older backup, a manual edit)
come back as the workflows would have written them, a row whose status disagrees with Temporal is rewritten, a
workflow Temporal ended without it recording its end is marked ended, rows Temporal does not know are reported and
kept — by the service, by `ReconcileWorkflow` (what the daily Schedule starts) and by `stellarflow reconcile`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import text
from temporalio.client import Client

from core.db import get_engine
from core.names import RECONCILE_WORKFLOW
from core.reconcile.contracts import ReconcileRequest
from core.reconcile.schedule import RECONCILE_SCHEDULE_ID, ensure_schedule
from core.reconcile.service import reconcile
from core.settings import get_settings
from tests.support import cmd, poll, start, wait_for_run

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"run": "runs", "agent": "agents", "task": "tasks", "swarm": "swarms"}


def _rows(table: str, ids: list[str]) -> dict[str, dict]:
    with get_engine().connect() as connection:
        found = connection.execute(text(f"SELECT id, status, state, seq, created_at FROM {table}")).mappings().all()
    rows = {row["id"]: dict(row) for row in found if row["id"] in ids}
    for row in rows.values():  # JSON comes back as text through a plain SELECT on SQLite
        row["state"] = json.loads(row["state"]) if isinstance(row["state"], str) else row["state"]
    return rows


def _delete(table: str, ids: list[str]) -> None:
    with get_engine().begin() as connection:
        for resource_id in ids:
            connection.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": resource_id})


async def _visible(client: Client, ids: list[str]) -> None:
    """Wait until Temporal's visibility lists every id (it lags about a second)."""
    for _ in range(100):
        listed = {w.id async for w in client.list_workflows(" OR ".join(f"WorkflowId = '{i}'" for i in ids))}
        if set(ids) <= listed:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not visible in Temporal: {set(ids) - listed}")


def _waiting(body: dict) -> bool:
    return (body["data"]["steps"][0].get("approval") or {}).get("status") == "waiting"


async def _resources(api: httpx.AsyncClient) -> dict[str, str]:
    """A finished run, a run waiting for approval, an agent with a completed task, a swarm."""
    done = await start(api, {"name": "reconciled", "steps": [cmd("a", "echo hi"), cmd("b", "true", dependsOn=["a"])]})
    waiting = await start(api, {"name": "reconciled waiting", "steps": [
        {"id": "gate", "action": "approval", "parameters": {"message": "ok?"}}]})
    agent = (await api.post("/api/agents", json={"name": "reconciled", "type": "tester",
                                                 "config": {"executor": "shell"}})).json()["id"]
    task = (await api.post("/api/tasks", json={"description": "hi", "requirements": {"command": "echo hi"}})).json()
    assigned = await api.post(f"/api/tasks/{task['id']}/assign", json={"agent_id": agent})
    assert assigned.status_code == 200, assigned.text
    swarm = (await api.post("/api/swarms", json={"name": "reconciled", "topology": "star"})).json()["id"]
    await wait_for_run(api, done)
    await poll(api, f"/api/tasks/{task['id']}", lambda body: body["status"] == "completed")
    await poll(api, f"/api/v2/runs/{waiting}", _waiting)
    return {"done": done, "waiting": waiting, "agent": agent, "task": task["id"], "swarm": swarm}


async def test_deleted_and_wrong_rows_come_back_from_temporal(api: httpx.AsyncClient, temporal_client: Client) -> None:
    made = await _resources(api)
    ids = list(made.values())
    await _visible(temporal_client, ids)
    kinds = {"done": "run", "waiting": "run", "agent": "agent", "task": "task", "swarm": "swarm"}
    before = {name: _rows(TABLES[kinds[name]], [made[name]])[made[name]] for name in made}

    # Nothing to do while the projections are right.
    clean = await reconcile(temporal_client, only=ids)
    assert clean.fixes == [] and clean.errors == [] and not clean.orphans, clean

    # The database loses rows and one row goes stale (a lost final write): reconcile puts them back.
    for name in ("done", "waiting", "agent", "task", "swarm"):
        _delete(TABLES[kinds[name]], [made[name]])
    with get_engine().begin() as connection:
        connection.execute(text("INSERT INTO runs (id, workflow_id, version, status, seq, inputs, state, created_at) "
                                "VALUES ('run-01ORPHAN0000000000000000000', 'wf-gone', 1, 'succeeded', 3, '{}', '{}', "
                                ":now)"), {"now": before["done"]["created_at"]})
    dry = await reconcile(temporal_client, only=[*ids, "run-01ORPHAN0000000000000000000"], dry_run=True)
    assert {fix.id for fix in dry.fixes} == set(ids) and dry.dry_run
    assert all(_rows(TABLES[kinds[n]], [made[n]]) == {} for n in made)  # a dry run changes nothing

    report = await reconcile(temporal_client, only=[*ids, "run-01ORPHAN0000000000000000000"])
    assert report.errors == [], report.errors
    assert {(fix.id, fix.action) for fix in report.fixes} == {(i, "rebuilt") for i in ids}
    assert report.orphans == {"run": ["run-01ORPHAN0000000000000000000"]}  # reported, kept
    for name, row in before.items():
        rebuilt = _rows(TABLES[kinds[name]], [made[name]])[made[name]]
        assert rebuilt["status"] == row["status"], name
        assert rebuilt["seq"] >= row["seq"], name
        volatile = {"updated_at", "recent"}
        assert {k: v for k, v in rebuilt["state"].items() if k not in volatile} == \
            {k: v for k, v in row["state"].items() if k not in volatile}, name
    assert _rows("runs", [made["done"]])[made["done"]]["created_at"] is not None

    # The API reads them again.
    assert (await api.get(f"/api/v2/runs/{made['done']}")).json()["data"]["status"] == "succeeded"
    listed = (await api.get("/api/v2/runs", params={"filter[workflowId]": before["done"]["state"]["workflowId"]}))
    assert made["done"] in {run["id"] for run in listed.json()["data"]}

    # A finished run whose row still says running (its last write lost) is rewritten.
    with get_engine().begin() as connection:
        connection.execute(text("UPDATE runs SET status = 'running' WHERE id = :id"), {"id": made["done"]})
    again = await reconcile(temporal_client, only=ids)
    assert [(f.id, f.action, f.before, f.after) for f in again.fixes] == [(made["done"], "rewritten", "running",
                                                                         "succeeded")]
    assert (await reconcile(temporal_client, only=ids)).fixes == []  # idempotent


async def test_a_workflow_terminated_in_temporal_is_marked_ended(api: httpx.AsyncClient,
                                                                  temporal_client: Client) -> None:
    run_id = await start(api, {"name": "terminated", "steps": [
        {"id": "gate", "action": "approval", "parameters": {"message": "never"}}]})
    await poll(api, f"/api/v2/runs/{run_id}", _waiting)
    await temporal_client.get_workflow_handle(run_id).terminate("operator")
    await _visible(temporal_client, [run_id])
    for _ in range(50):
        statuses = {w.status.name async for w in temporal_client.list_workflows(f"WorkflowId = '{run_id}'")}
        if statuses == {"TERMINATED"}:
            break
        await asyncio.sleep(0.1)
    assert _rows("runs", [run_id])[run_id]["status"] == "running"  # nobody recorded the end
    report = await reconcile(temporal_client, only=[run_id])
    assert [(f.action, f.before, f.after, f.temporal) for f in report.fixes] == [
        ("rewritten", "running", "failed", "TERMINATED")]
    body = (await api.get(f"/api/v2/runs/{run_id}")).json()["data"]
    assert body["status"] == "failed" and "terminated in Temporal" in body["error"]


async def test_the_reconcile_workflow_and_its_daily_schedule(api: httpx.AsyncClient, temporal_client: Client) -> None:
    run_id = await start(api, {"name": "by schedule", "steps": [cmd("a", "true")]})
    await wait_for_run(api, run_id)
    await _visible(temporal_client, [run_id])
    _delete("runs", [run_id])
    result = await temporal_client.execute_workflow(
        RECONCILE_WORKFLOW, ReconcileRequest(only=[run_id]), id=f"reconcile-test-{run_id}",
        task_queue=get_settings().task_queue, result_type=dict)
    assert [(fix["id"], fix["action"]) for fix in result["fixes"]] == [(run_id, "rebuilt")]
    assert _rows("runs", [run_id])[run_id]["status"] == "succeeded"

    await ensure_schedule(temporal_client, get_settings())
    await ensure_schedule(temporal_client, get_settings())  # idempotent
    described = await temporal_client.get_schedule_handle(RECONCILE_SCHEDULE_ID).describe()
    assert described.schedule.action.workflow == RECONCILE_WORKFLOW
    assert [interval.every.total_seconds() for interval in described.schedule.spec.intervals] == [86400]
    await temporal_client.get_schedule_handle(RECONCILE_SCHEDULE_ID).delete()


async def test_stellarflow_reconcile_reports_what_it_fixed(api: httpx.AsyncClient, temporal_client: Client) -> None:
    run_id = await start(api, {"name": "by the cli", "steps": [cmd("a", "true")]})
    await wait_for_run(api, run_id)
    await _visible(temporal_client, [run_id])
    _delete("runs", [run_id])
    env = {**os.environ, "TEMPORAL_ADDRESS": temporal_client.service_client.config.target_host}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", "import cli; cli.main()", "reconcile", "--kind", "run", "--id", run_id],
        cwd=ROOT,
        env=env, capture_output=True, text=True, timeout=300)
    assert f"run {run_id}: rebuilt (was missing; now succeeded; Temporal: COMPLETED)" in result.stdout, \
        result.stdout + result.stderr
    assert result.returncode == 0 and "✓ checked 1 runs; fixed 1 (1 rebuilt, 0 rewritten)" in result.stdout
    assert _rows("runs", [run_id])[run_id]["status"] == "succeeded"
