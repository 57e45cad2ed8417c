"""`stellarflow orchestrations|github|neural` through typer's runner against the real app served by uvicorn (the CLI
is an HTTP client with a sync httpx, so it runs in a thread beside the app's event loop): each command's effect is
checked through REST, and its errors are the API's, in one line with exit code 2."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import Result
from fastapi import FastAPI
from typer.testing import CliRunner

from cli import app as cli_app
from core.settings import reset_settings
from tests.fakes.github import FakeGitHub
from tests.fakes.http_server import free_port
from tests.support import client_for, poll, shared_user, token_for
from tests.test_github import REPOSITORY, github  # noqa: F401  (the fake GitHub fixture)
from tests.test_neural import samples

pytestmark = pytest.mark.database(
    "sqlite", reason="an HTTP client: the database paths it reaches are the API tests', which run on both")


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[str]:
    """The session's app under uvicorn on a free port, on the test's event loop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
def as_developer(live: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI pointed at the live app (STELLARFLOW_PUBLIC_URL) with a developer's token; yields the token."""
    token = token_for(user=shared_user("developer"))
    monkeypatch.setenv("STELLARFLOW_PUBLIC_URL", live)
    monkeypatch.setenv("STELLARFLOW_TOKEN", token)
    reset_settings()
    yield token
    reset_settings()


async def cli(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env={"COLUMNS": "200"})


async def ok(*args: str) -> str:
    result = await cli(*args)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _created(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, text
    return found[1]


async def test_orchestrations_start_show_and_cancel(app: FastAPI, as_developer: str, tmp_path: Path) -> None:
    started = await ok("orchestrations", "start", "build, then check", "-p", "build:coder", "-p", "check:tester",
                       "-c", "build=echo built > out.txt", "-c", "check=cat out.txt", "--duration", "build=120",
                       "--strategy", "sequential", "--agent-config", '{"executor": "shell"}', "--wait", "90")
    orchestration_id = _created(r"orchestration (orch-\S+)", started)
    assert re.search(r"ph-1\tbuild\tcompleted\t100%\tcoder\*", started), started  # the table: one row a phase
    shown = json.loads(await ok("orchestrations", "show", orchestration_id, "-o", "json"))
    async with client_for(app, as_developer) as api:
        rest = (await api.get(f"/api/v2/orchestrations/{orchestration_id}")).json()["data"]
        assert shown == rest and rest["status"] == "completed" and rest["strategy"] == "sequential"
        assert "built" in rest["phases"][1]["tasks"][0]["output"] and rest["phases"][0]["duration"] == 120

        body = tmp_path / "orchestration.yaml"  # the whole body, as the API takes it
        body.write_text("requirements:\n  phases:\n    - name: wait\n      agents: [tester]\n"
                        "      requirements: {command: sleep 60}\nagentConfig: {executor: shell}\n")
        waiting = _created(r"orchestration (orch-\S+)", await ok("orchestrations", "start", "wait", "-f", str(body)))
        await poll(api, f"/api/v2/orchestrations/{waiting}",
                   lambda b: b["data"]["phases"][0]["tasks"][0]["status"] == "running", timeout=60)
        assert f"{waiting}: cancelled" in await ok("orchestrations", "cancel", waiting)
        assert (await api.get(f"/api/v2/orchestrations/{waiting}")).json()["data"]["status"] == "cancelled"
    again = await cli("orchestrations", "cancel", waiting)
    assert again.exit_code == 2 and "409 CONFLICT" in again.stderr, again.output
    unknown_phase = await cli("orchestrations", "start", "x", "-p", "a:coder", "-c", "b=true")
    assert unknown_phase.exit_code == 2 and "no --phase named b" in unknown_phase.output


async def test_github_analyze_analysis_and_enhance(app: FastAPI, as_developer: str,
                                                   github: FakeGitHub) -> None:  # noqa: F811
    analyzed = await ok("github", "analyze", REPOSITORY, "-t", "security", "--branch", "main", "--wait", "120")
    analysis_id = _created(r"analysis (gh-analysis-\S+)", analyzed)
    assert re.search(r"^security\thigh\tapp/insecure\.py:5\tB602[^\t]*\tbandit\t", analyzed, re.MULTILINE), analyzed
    shown = json.loads(await ok("github", "analysis", analysis_id, "-o", "json"))
    async with client_for(app, as_developer) as api:
        rest = (await api.get(f"/api/v2/github/analysis/{analysis_id}")).json()["data"]
    assert shown == rest and rest["status"] == "completed" and [p["name"] for p in rest["phases"]] == ["security"]

    enhanced = await ok("github", "enhance", REPOSITORY, "7", "--wait", "120")
    assert _created(r"enhancement (gh-pr-\S+)", enhanced) and re.search(r"security\tdone\t.*comments=1", enhanced)
    assert len(github.pulls[(REPOSITORY, 7)].reviews) == 1  # posted on the PR
    bad = await cli("github", "analyze", "https://evil.example/x/y")
    assert bad.exit_code == 2 and "VALIDATION_ERROR" in bad.stderr, bad.output


async def test_neural_train_training_and_predict(app: FastAPI, as_developer: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "samples.jsonl"
    data.write_text("\n".join(json.dumps(sample) for sample in samples(200)))
    trained = await ok("neural", "train", "coordination", "-s", str(data), "--epochs", "20", "--learning-rate", "0.01",
                       "--validation-split", "0.25", "--wait", "90")
    training_id = _created(r"training (train-\S+)", trained)
    model_id = _created(r"of model (model-\S+)", trained)
    assert re.search(rf"{training_id}\tcompleted\t20/20\t", trained), trained
    shown = json.loads(await ok("neural", "training", training_id, "-o", "json"))
    async with client_for(app, as_developer) as api:
        rest = (await api.get(f"/api/v2/neural/training/{training_id}")).json()["data"]
        assert shown == rest and rest["model"] == {"modelId": model_id, "version": "1"}
        predicted = await ok("neural", "predict", model_id, "load=0.8", "agents=0.5", "color=red")
        assert re.search(r"^strategy\twide\t[01]\.\d+$", predicted, re.MULTILINE), predicted
        over_rest = (await api.post("/api/v2/neural/predict", json={
            "modelId": model_id, "input": {"load": 0.8, "agents": 0.5, "color": "red"}})).json()["data"]
    as_json = json.loads(await ok("neural", "predict", model_id, "--input", '{"load": 0.8, "agents": 0.5, '
                                                                            '"color": "red"}', "-o", "json"))
    assert as_json["prediction"] == over_rest["prediction"]
    neither = await cli("neural", "train", "coordination")
    assert neither.exit_code == 2 and "--samples FILE or --history" in neither.output

    monkeypatch.setenv("STELLARFLOW_TOKEN", token_for("viewer"))
    refused = await cli("neural", "train", "coordination", "-s", str(data))
    assert refused.exit_code == 2 and "403 FORBIDDEN" in refused.stderr, refused.output
