"""Every definition shipped under `definitions/` validates and runs to its intended end."""

from __future__ import annotations

from pathlib import Path

import httpx

from core.dsl.validate import validate_files
from tests.support import step_of, wait_for_run, wait_for_step

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "definitions").glob("*.yaml"))


def test_every_example_validates() -> None:
    assert {p.stem for p in EXAMPLES} >= {"ci", "fan-out", "approval"}
    problems = {str(path): str(error) for path, error in validate_files(EXAMPLES) if error is not None}
    assert problems == {}


async def _start(api: httpx.AsyncClient, workflow_id: str, inputs: dict | None = None) -> str:
    response = await api.post(f"/api/v2/workflows/{workflow_id}/runs", json={"inputs": inputs or {}})
    assert response.status_code == 202, response.text
    return response.json()["data"]["id"]


async def test_fan_out_example(api: httpx.AsyncClient) -> None:
    run = await wait_for_run(api, await _start(api, "fan-out"))
    assert run["status"] == "succeeded", run
    regions = [i["outputs"]["region"] for i in step_of(run, "probe")["instances"]]
    assert regions == ["eu", "us", "ap"]
    assert step_of(run, "report")["outputs"]["stdout"] == "probed 3 regions and 4 combinations\n"


async def test_approval_example(api: httpx.AsyncClient) -> None:
    run_id = await _start(api, "approval", {"version": "2.0.0"})
    gate = await wait_for_step(api, run_id, "approve",
                               lambda s: (s.get("approval") or {}).get("status") == "waiting")
    assert gate["approval"]["message"] == "Deploy 2.0.0 to staging?"
    assert (await api.post(f"/api/v2/runs/{run_id}/steps/approve/approve")).status_code == 200
    run = await wait_for_run(api, run_id)
    assert run["status"] == "succeeded", run
    slot = step_of(run, "deploy")["outputs"]["slot"]
    assert slot in ("blue", "green")
    assert step_of(run, "announce")["outputs"]["stdout"] == f"2.0.0 is live on slot {slot}\n"


async def test_ci_example_builds_this_repository(api: httpx.AsyncClient) -> None:
    """The real pipeline: clone this repo, ruff, a pytest selection, and a wheel build."""
    run = await wait_for_run(api, await _start(api, "ci", {"source": str(ROOT)}), timeout=240)
    assert run["status"] == "succeeded", [(s["id"], s["status"], s.get("error"), s["outputs"].get("stderr"))
                                          for s in run["steps"]]
    assert len(step_of(run, "checkout")["outputs"]["commit"]) == 40
    assert "passed" in step_of(run, "test")["outputs"]["stdout"]
    assert step_of(run, "build")["outputs"]["artifact"].startswith("dist/stellarflow-")
    assert step_of(run, "build")["outputs"]["artifact"].endswith(".whl")
