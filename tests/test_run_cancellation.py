"""Cancelling a run cancels its running steps (their process groups are killed) and what is pending."""

from __future__ import annotations

import asyncio
import os
import time

import httpx

from tests.processes import wait_running
from tests.support import cmd, start, step_of, wait_for_run, wait_for_step


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_cancel_kills_running_steps_and_cancels_pending(api: httpx.AsyncClient) -> None:
    run_id = await start(api, {
        "name": "cancellable",
        "steps": [
            cmd("long", "sleep 60.401 & wait"),
            cmd("next", "echo never", dependsOn=["long"]),
        ],
    })
    await wait_for_step(api, run_id, "long", lambda s: s["status"] == "running")
    [sleeper] = await wait_running("sleep 60.401")  # a host pid (`$!` in the sandbox is not one)
    assert _alive(sleeper)

    asked = time.monotonic()
    response = await api.post(f"/api/v2/runs/{run_id}/cancel")
    assert response.status_code == 202
    assert time.monotonic() - asked < 10  # answered at once, with the run as it stands
    run = await wait_for_run(api, run_id)
    assert run["status"] == "cancelled"
    assert step_of(run, "long")["status"] == "cancelled"
    assert step_of(run, "next")["status"] == "cancelled"
    for _ in range(100):  # the whole process group is gone, grandchildren included
        if not _alive(sleeper):
            break
        await asyncio.sleep(0.05)
    assert not _alive(sleeper)
    # Issue 11: a cancel acts in about a second (bench/cancel.py measures it); asserted loosely here.
    assert time.monotonic() - asked < 10, f"cancelling took {time.monotonic() - asked:.1f}s"
    print(f"run cancel: process gone and run cancelled after {time.monotonic() - asked:.2f}s")

    again = await api.post(f"/api/v2/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"


async def test_cancel_while_waiting_for_approval(api: httpx.AsyncClient) -> None:
    run_id = await start(api, {"name": "cancel at gate", "steps": [{"id": "gate", "action": "approval"}]})
    await wait_for_step(api, run_id, "gate", lambda s: (s.get("approval") or {}).get("status") == "waiting")
    assert (await api.post(f"/api/v2/runs/{run_id}/cancel")).status_code == 202
    run = await wait_for_run(api, run_id)
    assert run["status"] == "cancelled"
    assert step_of(run, "gate")["status"] == "cancelled"
    events = [e["type"] for e in (await api.get(f"/api/v2/runs/{run_id}/logs")).json()["data"]["events"]]
    assert events[0] == "run.started" and events[-1] == "run.cancelled"
