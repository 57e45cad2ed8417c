"""Steps and notifications that talk to other services, end to end through the worker, against local fakes
that speak the real wire formats (HTTP endpoints, Slack/webhook receivers, an SMTP server)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from core.settings import reset_settings
from tests.fakes.http_server import FakeHTTPServer, Reply, free_port
from tests.fakes.smtp import FakeSMTPServer
from tests.support import cmd, run_to_end, step_of


@pytest.fixture
def http_fake() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch, http_fake: FakeHTTPServer) -> Iterator[FakeSMTPServer]:
    """Point every notification channel at a fake; the worker reads settings per activity."""
    with FakeSMTPServer() as smtp:
        monkeypatch.setenv("STELLARFLOW_SLACK_WEBHOOK_URL", http_fake.url("/slack/T000/B000/secret"))
        monkeypatch.setenv("STELLARFLOW_WEBHOOK_URL", http_fake.url("/hook"))
        monkeypatch.setenv("STELLARFLOW_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("STELLARFLOW_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("STELLARFLOW_SMTP_TO", '["ops@example.com"]')
        reset_settings()
        yield smtp
    monkeypatch.undo()
    reset_settings()


async def test_http_request_step(api: httpx.AsyncClient, http_fake: FakeHTTPServer) -> None:
    http_fake.route("/api/release", Reply(201, {"id": 42, "state": "created"}))
    run = await run_to_end(api, {
        "name": "http",
        "inputs": {"tag": {"type": "string", "default": "v1"}},
        "steps": [
            {"id": "create", "action": "http-request",
             "parameters": {"url": http_fake.url("/api/release"), "method": "POST",
                            "headers": {"X-Tag": "{{ inputs.tag }}"}, "body": {"tag": "{{ inputs.tag }}"}},
             "outputs": {"releaseId": "{{ result.json.id }}"}},
            cmd("use", "echo release {{ steps.create.outputs.releaseId }}", dependsOn=["create"]),
        ],
    })
    assert run["status"] == "succeeded", run
    assert step_of(run, "create")["outputs"]["status"] == 201
    assert step_of(run, "use")["outputs"]["stdout"] == "release 42\n"
    [request] = http_fake.requests_to("/api/release")
    assert request.method == "POST"
    assert request.headers["x-tag"] == "v1"
    assert request.json() == {"tag": "v1"}


async def test_http_request_bad_status_and_unreachable_fail_the_step(api: httpx.AsyncClient,
                                                                     http_fake: FakeHTTPServer) -> None:
    http_fake.route("/broken", Reply(503, "down"))
    run = await run_to_end(api, {"name": "http-fail", "steps": [
        {"id": "bad", "action": "http-request", "parameters": {"url": http_fake.url("/broken")}},
        {"id": "gone", "action": "http-request", "parameters": {"url": f"http://127.0.0.1:{free_port()}/x"}},
    ]})
    assert run["status"] == "failed"
    assert step_of(run, "bad")["outputs"]["status"] == 503
    assert "503" in step_of(run, "bad")["error"]
    assert step_of(run, "gone")["status"] == "failed"


async def test_notifications_go_to_every_channel(api: httpx.AsyncClient, http_fake: FakeHTTPServer,
                                                 channels: FakeSMTPServer) -> None:
    run = await run_to_end(api, {
        "name": "Notified pipeline",
        "notifications": {"channels": ["slack", "webhook", "email"], "events": ["started", "failed", "completed"]},
        "steps": [cmd("boom", "exit 1")],
    })
    assert run["status"] == "failed"
    slack = http_fake.requests_to("/slack/T000/B000/secret")
    hooks = [r.json() for r in http_fake.requests_to("/hook")]
    assert len(slack) == 2 and all("Notified pipeline" in r.json()["text"] for r in slack)
    assert [h["event"] for h in hooks] == ["started", "failed"]
    assert hooks[1]["runId"] == run["id"] and hooks[1]["status"] == "failed"
    assert len(channels.messages) == 2
    assert all(m.rcpt_tos == ["ops@example.com"] for m in channels.messages)
    events = (await api.get(f"/api/v2/runs/{run['id']}/logs")).json()["data"]["events"]
    sent = {(e["data"]["event"], e["data"]["channel"]) for e in events if e["type"] == "notification.sent"}
    assert sent == {(ev, ch) for ev in ("started", "failed") for ch in ("slack", "webhook", "email")}
    assert "secret" not in str(events)  # the webhook URL is a secret: never in events


async def test_failing_channel_is_a_warning_not_a_failure(api: httpx.AsyncClient, http_fake: FakeHTTPServer,
                                                          channels: FakeSMTPServer) -> None:
    http_fake.route("/hook", Reply(500, "nope"))
    run = await run_to_end(api, {
        "name": "hook down",
        "notifications": {"channels": ["webhook"], "events": ["completed"]},
        "steps": [cmd("ok", "true")],
    })
    assert run["status"] == "succeeded"
    events = (await api.get(f"/api/v2/runs/{run['id']}/logs")).json()["data"]["events"]
    [warning] = [e for e in events if e["type"] == "notification.warning"]
    assert warning["data"]["channel"] == "webhook"
    assert "hook" not in warning["data"]["detail"]  # no URL in what we report


async def test_deploy_health_check_and_rollback(api: httpx.AsyncClient, http_fake: FakeHTTPServer) -> None:
    http_fake.route("/blue/health", Reply(200, "ok"))
    http_fake.route("/green/health", Reply(503, "sick"))
    environment = f"health-{free_port()}"
    definition = {
        "name": "guarded deploy",
        "environments": {environment: {
            "deployCommand": "echo deploying to $DEPLOY_SLOT",
            "healthCheckUrl": http_fake.base_url + "/{{ slot }}/health",
            "healthCheckTimeout": "1s",
            "rollbackCommand": "echo rolled back $DEPLOY_SLOT",
        }},
        "steps": [{"id": "deploy", "action": "deploy",
                   "parameters": {"environment": environment, "strategy": "blue-green"}}],
    }
    healthy = await run_to_end(api, definition)
    assert healthy["status"] == "succeeded", healthy
    assert step_of(healthy, "deploy")["outputs"]["slot"] == "blue"
    sick = await run_to_end(api, definition)
    deploy = step_of(sick, "deploy")
    assert sick["status"] == "failed"
    assert deploy["outputs"]["slot"] == "green"
    assert deploy["outputs"]["rolledBack"] is True
    again = await run_to_end(api, definition)  # the live slot stayed blue, so green is tried again
    assert step_of(again, "deploy")["outputs"]["slot"] == "green"
