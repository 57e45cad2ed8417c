"""http-request against a real local HTTP server: statuses decide the outcome, the body is bounded, and
failures name the endpoint without its query string."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.http_request import perform_http_request
from core.pipelines.contracts import ActionRequest
from core.settings import reset_settings
from tests.fakes.http_server import FakeHTTPServer, Reply, free_port

pytestmark = pytest.mark.database("sqlite", reason="an activity against a fake server: no database")

TAIL = 1024


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STELLARFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STELLARFLOW_OUTPUT_TAIL_BYTES", str(TAIL))
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def server(settings_env: None) -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as fake:
        yield fake


def make_request(parameters: dict[str, Any], **fields: Any) -> ActionRequest:
    return ActionRequest(run_id="run-1", step_id="call", action="http-request", parameters=parameters, **fields)


async def failure_of(req: ActionRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        await perform_http_request(req)
    return info.value


async def test_get_2xx_returns_status_headers_body_and_json(server: FakeHTTPServer) -> None:
    server.route("/items", Reply(200, {"id": 7, "tags": ["a"]}, headers={"X-Trace": "t-1"}))
    result = await perform_http_request(
        make_request({"url": server.url("/items?page=2"), "headers": {"Authorization": "Bearer abc"}})
    )
    out = result.outputs
    assert out["status"] == 200
    assert out["json"] == {"id": 7, "tags": ["a"]}
    assert out["body"] == '{"id": 7, "tags": ["a"]}'
    assert out["headers"]["x-trace"] == "t-1"
    assert out["truncated"] is False
    assert isinstance(out["durationMs"], int)
    (seen,) = server.requests_to("/items")
    assert seen.method == "GET"
    assert seen.query == {"page": ["2"]}
    assert seen.headers["authorization"] == "Bearer abc"


async def test_post_sends_json_for_structured_bodies_and_raw_text_for_strings(server: FakeHTTPServer) -> None:
    server.route("/echo", Reply(201, "created"))
    result = await perform_http_request(
        make_request({"url": server.url("/echo"), "method": "POST", "body": {"name": "x", "n": [1, 2]}})
    )
    assert result.outputs["status"] == 201
    assert result.outputs["body"] == "created"
    assert result.outputs["json"] is None
    await perform_http_request(
        make_request({"url": server.url("/echo"), "method": "PUT", "body": "plain text",
                      "headers": {"Content-Type": "text/plain"}})
    )  # fmt: skip
    posted, put = server.requests_to("/echo")
    assert posted.json() == {"name": "x", "n": [1, 2]}
    assert posted.headers["content-type"] == "application/json"
    assert put.method == "PUT" and put.text() == "plain text"


async def test_expect_status_accepts_listed_statuses(server: FakeHTTPServer) -> None:
    server.route("/missing", Reply(404, {"error": "nope"}))
    result = await perform_http_request(make_request({"url": server.url("/missing"), "expectStatus": [404]}))
    assert result.outputs["status"] == 404
    server.route("/ok", Reply(200))
    err = await failure_of(make_request({"url": server.url("/ok"), "expectStatus": [204]}))
    assert err.type == "StepFailed"
    assert "returned 200 (expected 204)" in err.message


@pytest.mark.parametrize("retry_failures", [False, True])
async def test_bad_status_fails_with_outputs_and_no_query_in_message(
    server: FakeHTTPServer, retry_failures: bool
) -> None:
    server.route("/fail", Reply(500, {"error": "boom"}))
    url = server.url("/fail?token=s3cret-token")
    err = await failure_of(make_request({"url": url, "method": "DELETE"}, retry_failures=retry_failures))
    assert err.type == "StepFailed"
    assert err.message == f"DELETE {server.url('/fail')} returned 500 (expected 2xx)"
    assert "s3cret-token" not in err.message
    assert err.details[0]["status"] == 500
    assert err.details[0]["json"] == {"error": "boom"}
    assert err.non_retryable is (not retry_failures)


async def test_connection_refused_fails_cleanly(settings_env: None) -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    err = await failure_of(make_request({"url": url}))
    assert err.type == "StepFailed"
    assert "could not connect" in err.message and "ConnectError" in err.message
    assert err.details[0]["status"] is None


async def test_slow_server_times_out(server: FakeHTTPServer) -> None:
    server.route("/slow", Reply(200, delay_s=1.0))
    err = await failure_of(make_request({"url": server.url("/slow"), "timeout": "200ms"}))
    assert err.type == "StepFailed"
    assert "timed out after 0.2s" in err.message


async def test_large_body_is_a_bounded_tail(server: FakeHTTPServer) -> None:
    big = {"data": "x" * 5000, "end": True}
    server.route("/big", Reply(200, big))
    result = await perform_http_request(make_request({"url": server.url("/big")}))
    out = result.outputs
    assert out["bodyBytes"] > TAIL
    assert len(out["body"].encode()) == TAIL
    assert out["body"].endswith('"end": true}')
    assert out["truncated"] is True
    assert out["json"] is None  # not parsed from a partial body


@pytest.mark.parametrize(
    "parameters",
    [{"url": "ftp://example.com/x"}, {"url": "http://x", "method": "BREW"}, {"url": "http://x", "extra": 1}],
)
async def test_invalid_parameters(settings_env: None, parameters: dict[str, Any]) -> None:
    err = await failure_of(make_request(parameters))
    assert err.type == "InvalidParameters"
    assert err.non_retryable
