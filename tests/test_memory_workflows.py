"""Shared memory from its other front ends, on the suite's own database, worker and Temporal server: the
`memory-store` / `memory-read` DSL actions in real pipeline runs, the TTL sweep as a Temporal Schedule that writes
events, and `read_context` (what the LLM executor calls)."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import select
from temporalio.client import Client

from core.db import session_scope
from core.events.tables import EventRow
from core.memory.schedule import SWEEP_SCHEDULE_ID, ensure_schedules
from core.memory.service import Caller, read_context, service_for
from core.settings import get_settings
from tests.support import run_to_end, step_of


def _ns(label: str) -> str:
    return f"{label}-{os.urandom(4).hex()}"


async def test_memory_store_and_read_actions_in_a_pipeline_run(api: httpx.AsyncClient) -> None:
    ns = _ns("pipeline")
    run = await run_to_end(api, {
        "name": "memory-actions",
        "inputs": {"release": {"type": "string", "default": "v1.2.3"}},
        "steps": [
            {"id": "remember", "action": "memory-store",
             "parameters": {"namespace": ns, "key": "release/latest", "tags": ["release"],
                            "value": {"version": "{{ inputs.release }}", "notes": "first memory from a pipeline"}}},
            {"id": "recall", "action": "memory-read", "dependsOn": ["remember"],
             "parameters": {"namespace": ns, "key": "release/latest"},
             "outputs": {"version": "{{ result.value.version }}"}},
            {"id": "optional", "action": "memory-read", "dependsOn": ["remember"],
             "parameters": {"namespace": ns, "key": "never-stored", "required": False}},
            {"id": "strict", "action": "memory-read", "dependsOn": ["remember"], "continueOnError": True,
             "parameters": {"namespace": ns, "key": "never-stored"}},
        ],
    })
    stored = step_of(run, "remember")
    assert stored["status"] == "succeeded", run
    assert stored["outputs"]["version"] == 1 and stored["outputs"]["id"].startswith("mem-")
    recalled = step_of(run, "recall")
    assert recalled["outputs"]["value"] == {"version": "v1.2.3", "notes": "first memory from a pipeline"}
    assert recalled["outputs"]["version"] == "v1.2.3"  # the named output
    assert step_of(run, "optional")["outputs"]["found"] is False
    strict = step_of(run, "strict")
    assert strict["status"] == "failed" and "no entry" in strict["error"]

    # the same store the API reads
    got = await api.get("/api/memory/release/latest", params={"namespace": ns})
    assert got.status_code == 200, got.text
    assert got.json()["owner"] == "system" and got.json()["value"]["version"] == "v1.2.3"
    found = (await api.get("/api/v2/memory/search", params={"q": "pipeline", "namespace": ns})).json()
    assert [hit["key"] for hit in found["data"]] == ["release/latest"]


async def test_a_bad_memory_step_fails_clearly(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "memory-bad",
        "steps": [{"id": "bad", "action": "memory-store",
                   "parameters": {"namespace": "has space", "key": "k", "value": 1}}],
    })
    step = step_of(run, "bad")
    assert run["status"] == "failed" and step["status"] == "failed"
    assert "namespace" in step["error"] and step["attempts"] == 1  # invalid parameters are not retried

    invalid = await api.post("/api/v2/workflows", json={
        "name": "memory-invalid", "steps": [{"id": "s", "action": "memory-read", "parameters": {"value": 1}}]})
    assert invalid.status_code == 400
    assert "memory-read" in invalid.text


async def test_the_sweep_schedule_runs_and_writes_events(temporal_client: Client, worker: None) -> None:
    settings = get_settings()
    await ensure_schedules(temporal_client, settings)
    await ensure_schedules(temporal_client, settings)  # idempotent
    handle = temporal_client.get_schedule_handle(SWEEP_SCHEDULE_ID)
    try:
        changed = settings.model_copy(update={"memory_sweep_interval_s": 123.0})
        await ensure_schedules(temporal_client, changed)
        described = await handle.describe()
        assert [spec.every.total_seconds() for spec in described.schedule.spec.intervals] == [123.0]

        ns = _ns("sweep")
        entry = service_for().store(Caller(owner="sweeper"), ns, "short-lived", {"n": 1}, ttl=1)
        await asyncio.sleep(max(0.0, (entry.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
        await handle.trigger()
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            with session_scope() as session:
                events = session.exec(select(EventRow).where(EventRow.resource_id == entry.id)).all()
            if events or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        assert [(e.type, e.data["namespace"], e.data["key"]) for e in events] == [
            ("memory.expired", ns, "short-lived")]
        recent = (await handle.describe()).info.recent_actions
        assert recent, "the schedule recorded no action"
        result = await temporal_client.get_workflow_handle(recent[-1].action.workflow_id).result()
        assert result >= 1
    finally:
        await handle.delete()  # leave no schedule firing into later test modules


def test_read_context_honours_access_levels_and_ttl() -> None:
    ns = _ns("context")
    service = service_for()
    owner = Caller(owner="agent-owner")
    service.store(owner, ns, "architecture", {"database": "PostgreSQL"}, access_level="shared")
    service.store(owner, ns, "public-notes", "use the public API", access_level="public")
    service.store(owner, ns, "private-notes", {"secret": True}, access_level="private")
    brief = service.store(owner, ns, "brief", "gone soon", ttl=1)
    assert read_context(["brief"], namespace=ns) == {"brief": "gone soon"}
    keys = ["architecture", "public-notes", "private-notes", "missing", "brief"]
    time.sleep(max(0.0, (brief.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    assert read_context(keys, namespace=ns) == {"architecture": {"database": "PostgreSQL"},
                                                "public-notes": "use the public API"}
    mine = read_context(keys, namespace=ns, owner="agent-owner")
    assert set(mine) == {"architecture", "public-notes", "private-notes"}
    mine["architecture"]["database"] = "changed by the caller"
    assert service.get(owner, ns, "architecture").value == {"database": "PostgreSQL"}  # callers get copies
    with pytest.raises(Exception, match="key"):
        read_context(["not a key"], namespace=ns)
