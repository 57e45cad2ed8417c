"""The `http-request` action: one HTTP call whose status decides the step's outcome.

The response body is read as a stream and only a bounded tail is kept, so a large download cannot fill the
worker's memory or the run history. Messages name the method and the URL without its query string or
credentials, which is where tokens usually travel. The request goes through the egress guard
(`activities/egress.py`): an internal address the operator did not allowlist fails the step without a retry.
Redirects are not followed (a 3xx is the step's status).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.command import format_seconds, step_timeout
from activities.egress import EgressRefused, guarded_client
from activities.environment import (
    current_attempt,
    invalid_parameters,
    parse_params,
    step_failed,
    with_heartbeats,
)
from core import names
from core.dsl.actions import HttpRequestParams
from core.pipelines.contracts import ActionRequest, ActionResult
from core.settings import get_settings

DEFAULT_HTTP_TIMEOUT_S = 30.0


def safe_url(url: str) -> str:
    """scheme://host[:port]/path: no userinfo, query or fragment, so a message never carries a token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "<invalid url>"


def _expected(params: HttpRequestParams) -> str:
    return "2xx" if params.expectStatus is None else ", ".join(str(s) for s in params.expectStatus)


def _status_ok(status: int, expect: list[int] | None) -> bool:
    return 200 <= status < 300 if expect is None else status in expect


def _is_json(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


async def _send(params: HttpRequestParams, timeout_s: float, tail_bytes: int) -> dict[str, Any]:
    """Send the request and read the response into the outputs shape."""
    kwargs: dict[str, Any] = {"headers": params.headers}
    if params.body is not None and params.method != "HEAD":
        if isinstance(params.body, str | bytes):
            kwargs["content"] = params.body
        else:
            kwargs["json"] = params.body
    started = time.monotonic()
    async with guarded_client(timeout=timeout_s, follow_redirects=False) as client:
        async with client.stream(params.method, params.url, **kwargs) as response:
            tail = bytearray()
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                tail += chunk
                if len(tail) > tail_bytes:
                    del tail[: len(tail) - tail_bytes]
            encoding = response.charset_encoding or "utf-8"
            try:
                body = bytes(tail).decode(encoding, errors="replace")
            except LookupError:
                body = bytes(tail).decode("utf-8", errors="replace")
            parsed: Any = None
            if size == len(tail) and size and _is_json(response.headers.get("content-type", "")):
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
            return {
                "status": response.status_code,
                "headers": {key: ", ".join(response.headers.get_list(key)) for key in response.headers.keys()},
                "body": body,
                "json": parsed,
                "bodyBytes": size,
                "truncated": size > len(tail),
                "durationMs": int((time.monotonic() - started) * 1000),
            }


async def perform_http_request(req: ActionRequest) -> ActionResult:
    """The whole `http-request` action without Temporal. The timeout is the parameter's, else the step's,
    else 30 s (an HTTP call should not inherit the one-hour default of a build step)."""
    params = parse_params(req, HttpRequestParams)
    scheme = urlsplit(params.url).scheme.lower()
    if scheme not in {"http", "https"}:
        raise invalid_parameters(f"invalid parameters for {req.action}: url must be http:// or https://")
    timeout_s = (
        step_timeout(params.timeout, req)
        if params.timeout is not None or req.timeout_s is not None
        else DEFAULT_HTTP_TIMEOUT_S
    )
    target = f"{params.method} {safe_url(params.url)}"
    started = time.monotonic()
    try:
        outputs = await with_heartbeats(_send(params, timeout_s, get_settings().output_tail_bytes))
    except httpx.InvalidURL:
        raise invalid_parameters(f"invalid parameters for {req.action}: url is not a valid URL") from None
    except EgressRefused as err:
        failure = f"{target}: {err}"
        raise egress_refused(failure, _error_outputs(failure, started)) from None
    except httpx.TimeoutException as err:
        failure = f"{target} timed out after {format_seconds(timeout_s)} ({type(err).__name__})"
        raise step_failed(failure, _error_outputs(failure, started), req) from None
    except httpx.HTTPError as err:
        reason = "could not connect" if isinstance(err, httpx.ConnectError) else "failed"
        failure = f"{target} {reason} ({type(err).__name__})"
        raise step_failed(failure, _error_outputs(failure, started), req) from None
    if not _status_ok(outputs["status"], params.expectStatus):
        failure = f"{target} returned {outputs['status']} (expected {_expected(params)})"
        raise step_failed(failure, outputs, req)
    return ActionResult(outputs=outputs, attempt=current_attempt())


def egress_refused(message: str, outputs: dict[str, Any]) -> ApplicationError:
    """Refused by the egress guard: retrying cannot help (the address is what it is), whatever the step's retry."""
    return ApplicationError(message, outputs, {"attempt": current_attempt()}, type="EgressRefused",
                            non_retryable=True)


def _error_outputs(error: str, started: float) -> dict[str, Any]:
    return {"status": None, "error": error, "durationMs": int((time.monotonic() - started) * 1000)}


@activity.defn(name=names.HTTP_REQUEST)
async def http_request(req: ActionRequest) -> ActionResult:
    """Temporal entry point."""
    return await perform_http_request(req)
