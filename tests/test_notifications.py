"""Notifications over real HTTP and SMTP: what Slack, a webhook and a mail relay receive, and how an
unconfigured or failing channel is reported (never with its secret URL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.notifications import run_notify, send_run_notifications
from core.pipelines.contracts import ActionRequest, NotificationRequest
from core.settings import reset_settings
from tests.fakes.http_server import FakeHTTPServer, Reply, free_port
from tests.fakes.smtp import FakeSMTPServer

SLACK_PATH = "/services/T000/B000/slack-s3cret"
HOOK_PATH = "/hooks/stellarflow"
HOOK_TOKEN = "hook-s3cret"
NOTIFY_SETTINGS = (
    "STELLARFLOW_SLACK_WEBHOOK_URL",
    "STELLARFLOW_WEBHOOK_URL",
    "STELLARFLOW_SMTP_HOST",
    "STELLARFLOW_SMTP_PORT",
    "STELLARFLOW_SMTP_TO",
    "STELLARFLOW_SMTP_FROM",
)


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No channel configured until a test configures one."""
    monkeypatch.setenv("STELLARFLOW_DATA_DIR", str(tmp_path / "data"))
    for name in NOTIFY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    yield monkeypatch
    reset_settings()


@pytest.fixture
def server(settings_env: pytest.MonkeyPatch) -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as fake:
        settings_env.setenv("STELLARFLOW_SLACK_WEBHOOK_URL", fake.url(SLACK_PATH))
        settings_env.setenv("STELLARFLOW_WEBHOOK_URL", fake.url(f"{HOOK_PATH}?token={HOOK_TOKEN}"))
        reset_settings()
        yield fake


@pytest.fixture
def smtp(settings_env: pytest.MonkeyPatch) -> Iterator[FakeSMTPServer]:
    with FakeSMTPServer() as fake:
        settings_env.setenv("STELLARFLOW_SMTP_HOST", fake.host)
        settings_env.setenv("STELLARFLOW_SMTP_PORT", str(fake.port))
        settings_env.setenv("STELLARFLOW_SMTP_FROM", "ci@example.com")
        settings_env.setenv("STELLARFLOW_SMTP_TO", json.dumps(["ops@example.com", "dev@example.com"]))
        reset_settings()
        yield fake


def run_event(channels: list[str], **fields: Any) -> NotificationRequest:
    values: dict[str, Any] = {
        "run_id": "run-42",
        "workflow_id": "build-app",
        "workflow_name": "Build app",
        "event": "failed",
        "channels": channels,
        "message": "Build app: run run-42 failed (step test failed)",
        "status": "failed",
        "link": "http://127.0.0.1:8000/runs/run-42",
    }
    values.update(fields)
    return NotificationRequest(**values)


def notify_step(channels: list[str], message: str = "deployed 1.2.3") -> ActionRequest:
    return ActionRequest(
        run_id="run-42", step_id="announce", action="notify", parameters={"channels": channels, "message": message}
    )


def assert_no_secret(text: str | None) -> None:
    assert text is not None
    for secret in ("slack-s3cret", HOOK_TOKEN, "127.0.0.1:", "http://"):
        assert secret not in text


async def test_all_channels_deliver(server: FakeHTTPServer, smtp: FakeSMTPServer) -> None:
    outcomes = await send_run_notifications(run_event(["slack", "webhook", "email"]))
    assert [(o.channel, o.ok, o.detail) for o in outcomes] == [
        ("slack", True, None),
        ("webhook", True, None),
        ("email", True, None),
    ]

    (slack,) = server.requests_to(SLACK_PATH)
    assert slack.method == "POST"
    text = slack.json()["text"]
    assert "Build app: run run-42 failed" in text and "http://127.0.0.1:8000/runs/run-42" in text

    (hook,) = server.requests_to(HOOK_PATH)
    assert hook.query == {"token": [HOOK_TOKEN]}
    assert hook.headers["content-type"] == "application/json"
    assert hook.json() == {
        "event": "failed",
        "runId": "run-42",
        "workflowId": "build-app",
        "workflowName": "Build app",
        "status": "failed",
        "message": "Build app: run run-42 failed (step test failed)",
        "link": "http://127.0.0.1:8000/runs/run-42",
    }

    (mail,) = smtp.messages
    assert mail.mail_from == "ci@example.com"
    assert mail.rcpt_tos == ["ops@example.com", "dev@example.com"]
    assert "Build app" in mail.subject and "failed" in mail.subject
    assert "run-42 failed (step test failed)" in mail.body()
    assert "http://127.0.0.1:8000/runs/run-42" in mail.body()


async def test_unconfigured_channels_are_reported_not_raised(settings_env: pytest.MonkeyPatch) -> None:
    outcomes = await send_run_notifications(run_event(["slack", "webhook", "email"]))
    details = {o.channel: (o.ok, o.detail) for o in outcomes}
    assert details == {
        "slack": (False, "slack is not configured (set STELLARFLOW_SLACK_WEBHOOK_URL)"),
        "webhook": (False, "webhook is not configured (set STELLARFLOW_WEBHOOK_URL)"),
        "email": (False, "email is not configured (set STELLARFLOW_SMTP_HOST and STELLARFLOW_SMTP_TO)"),
    }


async def test_failing_channels_report_status_without_url(server: FakeHTTPServer) -> None:
    server.route(HOOK_PATH, Reply(500, "internal error mentioning nothing"))
    server.route(SLACK_PATH, Reply(404, "no_service"))
    outcomes = await send_run_notifications(run_event(["slack", "webhook"]))
    by_channel = {o.channel: o for o in outcomes}
    assert not by_channel["slack"].ok and by_channel["slack"].detail == "HTTP 404"
    assert not by_channel["webhook"].ok and by_channel["webhook"].detail == "HTTP 500"
    for outcome in outcomes:
        assert_no_secret(outcome.detail)


async def test_unreachable_endpoints_never_raise(settings_env: pytest.MonkeyPatch) -> None:
    port = free_port()
    settings_env.setenv("STELLARFLOW_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook?token={HOOK_TOKEN}")
    settings_env.setenv("STELLARFLOW_SMTP_HOST", "127.0.0.1")
    settings_env.setenv("STELLARFLOW_SMTP_PORT", str(free_port()))
    settings_env.setenv("STELLARFLOW_SMTP_TO", '["ops@example.com"]')
    reset_settings()
    outcomes = await send_run_notifications(run_event(["webhook", "email", "pager"]))
    details = {o.channel: (o.ok, o.detail) for o in outcomes}
    assert details["webhook"] == (False, "ConnectError")
    assert details["email"] == (False, "ConnectionRefusedError")
    assert details["pager"] == (False, "unknown channel 'pager'")
    for outcome in outcomes:
        assert_no_secret(outcome.detail)


async def test_notify_action_succeeds_when_every_channel_does(server: FakeHTTPServer, smtp: FakeSMTPServer) -> None:
    result = await run_notify(notify_step(["slack", "webhook", "email"]))
    assert result.outputs["sent"] == ["slack", "webhook", "email"]
    assert result.outputs["failed"] == []
    hook = server.requests_to(HOOK_PATH)[0].json()
    assert (hook["event"], hook["runId"], hook["stepId"], hook["message"]) == (
        "notify", "run-42", "announce", "deployed 1.2.3"
    )  # fmt: skip
    assert server.requests_to(SLACK_PATH)[0].json() == {"text": "deployed 1.2.3"}
    assert "deployed 1.2.3" in smtp.messages[0].body()


async def test_notify_action_fails_when_a_channel_fails(server: FakeHTTPServer) -> None:
    server.route(HOOK_PATH, Reply(500))
    with pytest.raises(ApplicationError) as info:
        await run_notify(notify_step(["slack", "webhook", "email"]))
    err = info.value
    assert err.type == "StepFailed"
    assert "webhook (HTTP 500)" in err.message
    assert "email (email is not configured" in err.message
    assert "slack" not in err.message
    assert_no_secret(err.message)
    outputs = err.details[0]
    assert outputs["sent"] == ["slack"]
    assert outputs["failed"] == ["webhook", "email"]
    assert_no_secret(json.dumps(outputs))


async def test_notify_action_rejects_unknown_channels(settings_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ApplicationError) as info:
        await run_notify(notify_step(["pager"]))
    assert info.value.type == "InvalidParameters"
    assert info.value.non_retryable
