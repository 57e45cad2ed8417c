"""deploy with real commands, a real health endpoint and the real deployments table: slots flip only after
a healthy deploy, failures roll back, and a retried step never deploys twice."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.deploy import run_deploy
from core.db import session_scope
from core.pipelines.contracts import ActionRequest
from core.pipelines.tables import DeploymentRow
from core.settings import get_settings, reset_settings
from tests.fakes.http_server import FakeHTTPServer, Reply


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_database_url: str) -> Iterator[Path]:
    """Fresh data dir and a fresh database of this half's kind, hence a fresh deployments table."""
    monkeypatch.setenv("STELLARFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    reset_settings()
    yield tmp_path
    reset_settings()


@pytest.fixture
def server(settings_env: Path) -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as fake:
        yield fake


def logging_command(log: str, text: str = "$DEPLOY_SLOT $DEPLOY_VERSION $DEPLOY_PREVIOUS_SLOT") -> str:
    """A deploy command that appends one line per run to the file `log` in its run's workspace (the only place
    a sandboxed command can write): the counter the tests read."""
    return f'echo "{text}" >> {shlex.quote(log)}'


def environment(log: str, **overrides: Any) -> dict[str, Any]:
    return {"deployCommand": logging_command(log), **overrides}


def make_request(
    parameters: dict[str, Any], environments: dict[str, dict[str, Any]], *, run_id: str = "run-1", **fields: Any
) -> ActionRequest:
    return ActionRequest(
        run_id=run_id, step_id="deploy", action="deploy", parameters=parameters, environments=environments,
        **fields,
    )  # fmt: skip


def row(environment: str) -> DeploymentRow | None:
    with session_scope() as session:
        return session.get(DeploymentRow, environment)


def lines(log: str) -> list[str]:
    """The lines of `log` in every run's workspace, runs in order (run-1, run-2...)."""
    found = sorted(get_settings().workspaces_dir.glob(f"run-*/{log}"))
    return [line for path in found for line in path.read_text().splitlines()]


async def failure_of(req: ActionRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        await run_deploy(req)
    return info.value


async def test_rolling_deploy_in_place(settings_env: Path, server: FakeHTTPServer) -> None:
    log = "deploys.log"
    envs = {
        "staging": environment(
            log,
            deployCommand=logging_command(log, "$DEPLOY_ENVIRONMENT $DEPLOY_STRATEGY [$DEPLOY_SLOT] $DEPLOY_VERSION"),
            healthCheckUrl=server.url("/health"),
        )
    }
    result = await run_deploy(make_request({"environment": "staging", "version": "1.4.0"}, envs))
    out = result.outputs
    assert out["environment"] == "staging"
    assert out["strategy"] == "rolling"
    assert out["slot"] == "" and out["previousSlot"] == ""
    assert out["healthy"] is True
    assert out["version"] == "1.4.0"
    assert isinstance(out["durationMs"], int)
    assert lines(log) == ["staging rolling [] 1.4.0"]
    assert len(server.requests_to("/health")) == 1
    recorded = row("staging")
    assert recorded is not None
    assert recorded.version == "1.4.0" and recorded.run_id == "run-1/deploy"


async def test_health_check_polls_until_healthy(settings_env: Path, server: FakeHTTPServer) -> None:
    log = "deploys.log"
    server.route("/health", Reply(503), Reply(503), Reply(200))
    envs = {"staging": environment(log, healthCheckUrl=server.url("/health"), healthCheckTimeout="5s")}
    result = await run_deploy(make_request({"environment": "staging"}, envs))
    assert result.outputs["healthy"] is True
    assert result.outputs["healthChecks"] == 3


async def test_blue_green_flips_slots(settings_env: Path, server: FakeHTTPServer) -> None:
    log = "deploys.log"
    envs = {"prod": environment(log, healthCheckUrl=server.base_url + "/{{ slot }}/health?env={{ environment }}")}
    params = {"environment": "prod", "strategy": "blue-green"}

    first = await run_deploy(make_request({**params, "version": "1"}, envs, run_id="run-1"))
    assert (first.outputs["slot"], first.outputs["previousSlot"]) == ("blue", "")
    assert row("prod").live_slot == "blue"  # type: ignore[union-attr]

    second = await run_deploy(make_request({**params, "version": "2"}, envs, run_id="run-2"))
    assert (second.outputs["slot"], second.outputs["previousSlot"]) == ("green", "blue")
    recorded = row("prod")
    assert recorded is not None
    assert (recorded.live_slot, recorded.version, recorded.run_id) == ("green", "2", "run-2/deploy")

    assert lines(log) == ["blue 1 ", "green 2 blue"]
    assert [r.path for r in server.requests] == ["/blue/health", "/green/health"]
    assert server.requests[0].query == {"env": ["prod"]}


async def test_failed_health_check_rolls_back_and_keeps_live_slot(settings_env: Path, server: FakeHTTPServer) -> None:
    log, rollback_log = "deploys.log", "rollback.log"
    envs = {
        "prod": environment(
            log,
            healthCheckUrl=server.base_url + "/{{ slot }}/health",
            healthCheckTimeout="1s",
            rollbackCommand=logging_command(rollback_log, "rollback $DEPLOY_SLOT"),
        )
    }
    params = {"environment": "prod", "strategy": "blue-green"}
    await run_deploy(make_request({**params, "version": "1"}, envs, run_id="run-1"))

    server.route("/green/health", Reply(503, "starting"))
    err = await failure_of(make_request({**params, "version": "2"}, envs, run_id="run-2"))
    assert err.type == "StepFailed"
    assert "health check" in err.message and "rolled back" in err.message
    out = err.details[0]
    assert out["slot"] == "green" and out["previousSlot"] == "blue"
    assert out["healthy"] is False
    assert out["rolledBack"] is True and out["rollbackExitCode"] == 0
    assert out["healthStatus"] == 503
    assert lines(rollback_log) == ["rollback green"]
    recorded = row("prod")
    assert recorded is not None
    assert (recorded.live_slot, recorded.version, recorded.run_id) == ("blue", "1", "run-1/deploy")


async def test_failed_deploy_command_without_rollback(settings_env: Path) -> None:
    envs = {"staging": {"deployCommand": "echo deploying; exit 4"}}
    err = await failure_of(make_request({"environment": "staging"}, envs, retry_failures=True))
    assert err.type == "StepFailed"
    assert "deploy command exited with code 4" in err.message
    assert err.non_retryable is False
    out = err.details[0]
    assert out["exitCode"] == 4 and out["stdout"] == "deploying\n"
    assert out["healthy"] is False and out["rolledBack"] is False
    assert row("staging") is None


async def test_unconfigured_environment(settings_env: Path) -> None:
    err = await failure_of(make_request({"environment": "staging"}, {"prod": {"deployCommand": "true"}}))
    assert err.type == "EnvironmentNotConfigured"
    assert err.non_retryable
    assert "'staging' is not configured" in err.message and "STELLARFLOW_ENVIRONMENTS" in err.message


async def test_environment_from_server_settings(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = "deploys.log"
    monkeypatch.setenv("STELLARFLOW_ENVIRONMENTS", json.dumps({"qa": {"deployCommand": logging_command(log)}}))
    reset_settings()
    result = await run_deploy(make_request({"environment": "qa", "version": "9"}, {}))
    assert result.outputs["healthy"] is True
    assert lines(log) == [" 9 "]


async def test_misconfigured_environment_is_invalid(settings_env: Path) -> None:
    err = await failure_of(make_request({"environment": "x"}, {"x": {"deployCommand": "true", "slots": ["a"]}}))
    assert err.type == "InvalidParameters"


async def test_retried_step_returns_the_recorded_deploy(settings_env: Path, server: FakeHTTPServer) -> None:
    log = "deploys.log"
    envs = {"prod": environment(log, healthCheckUrl=server.base_url + "/{{ slot }}")}
    req = make_request({"environment": "prod", "strategy": "blue-green", "version": "3"}, envs)
    first = await run_deploy(req)
    again = await run_deploy(req)
    assert lines(log) == ["blue 3 "]  # the command ran once
    assert len(server.requests) == 1
    assert again.outputs["alreadyDeployed"] is True
    assert (again.outputs["slot"], again.outputs["version"]) == (first.outputs["slot"], "3")
    assert row("prod").live_slot == "blue"  # type: ignore[union-attr]


async def test_concurrent_deploy_is_detected_and_not_overwritten(settings_env: Path) -> None:
    """Another worker records a blue-green deploy of the same environment while ours runs (here: the test, while
    our deploy command waits for it; the command itself cannot reach the database from its sandbox). Ours must
    not flip the slot back."""
    rollback_log = "rollback.log"
    envs = {
        "prod": {
            "deployCommand": "touch waiting; while [ ! -e go ]; do sleep 0.02; done",
            "rollbackCommand": logging_command(rollback_log, "rollback"),
        }
    }
    req = make_request({"environment": "prod", "strategy": "blue-green", "version": "mine"}, envs)
    deploying = asyncio.ensure_future(failure_of(req))
    workspace = get_settings().workspaces_dir / "run-1"
    while not (workspace / "waiting").exists():
        assert not deploying.done(), deploying.result()
        await asyncio.sleep(0.02)
    with session_scope() as session:
        session.merge(DeploymentRow(environment="prod", live_slot="blue", version="other", run_id="run-x/deploy"))
    (workspace / "go").touch()
    err = await deploying
    assert err.type == "StepFailed"
    assert "another deploy" in err.message
    assert err.details[0]["rolledBack"] is False
    assert lines(rollback_log) == []
    recorded = row("prod")
    assert recorded is not None
    assert (recorded.live_slot, recorded.version, recorded.run_id) == ("blue", "other", "run-x/deploy")
