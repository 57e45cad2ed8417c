"""Schemathesis fuzzing: every operation in our OpenAPI schema, positive and negative cases, sent with a valid admin
token to the real app (in-process, with Temporal and the worker) — and no response may be a 5xx.

How it runs: schemathesis (hypothesis underneath) generates cases in a worker thread; each request is sent with the
suite's httpx ASGI client on the session's event loop, where the app, its Temporal client and its database live
(schemathesis' own ASGI transport would run the app on another loop, which the Temporal client does not allow).
Nothing is excluded. Two operations are sent differently, and why:

* `POST /api/v2/auth/logout` and `POST /api/auth/logout` end the session of the token they are called with, so
  each of their cases gets a fresh admin session of its own (the fuzzing token would stop working otherwise).
* Path parameters are sometimes pinned to resources that exist (a workflow, a finished run and its step), so the
  cases reach the code behind the 404 too; the rest are generated as usual.

Bounded: `FUZZ_EXAMPLES` examples per operation (env `STELLARFLOW_FUZZ_EXAMPLES`), derandomized so CI sees the same
cases every run (set `STELLARFLOW_FUZZ_RANDOM=1` to explore). The request count is printed and recorded as the
`fuzz_requests` property.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support import cmd, token_for, wait_for_run

schemathesis = pytest.importorskip("schemathesis")  # a test extra; its absence must not hide the rest of the suite
from schemathesis import GenerationMode  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("STELLARFLOW_FUZZ_EXAMPLES", "25"))
LOGOUTS = {"/api/v2/auth/logout", "/api/auth/logout"}
_DROPPED = {"authorization", "user-agent", "accept-encoding", "connection", "x-schemathesis-testcaseid"}


async def _known_resources(api: httpx.AsyncClient) -> dict[str, str]:
    created = await api.post("/api/v2/workflows", json={"name": "fuzz-target", "steps": [cmd("a", "true")]})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["data"]["id"]
    started = await api.post(f"/api/v2/workflows/{workflow_id}/runs", json={"inputs": {}})
    assert started.status_code == 202, started.text
    run = await wait_for_run(api, started.json()["data"]["id"])
    return {"workflow_id": workflow_id, "run_id": run["id"], "step_id": "a"}


def _request_kwargs(case: Any, token: str) -> dict[str, Any]:
    sent = case.as_transport_kwargs(base_url="http://testserver")
    headers = {k: v for k, v in (sent.get("headers") or {}).items() if k.lower() not in _DROPPED}
    headers["Authorization"] = f"Bearer {token}"
    kwargs: dict[str, Any] = {"method": sent["method"], "url": sent["url"], "headers": headers,
                              "params": sent.get("params") or None, "cookies": sent.get("cookies") or None}
    if "json" in sent:
        kwargs["json"] = sent["json"]
    elif "data" in sent:
        data = sent["data"]
        kwargs["content" if isinstance(data, bytes | str) else "data"] = data
    return kwargs


class _Run:
    """What one fuzzing pass saw."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop, token: str) -> None:
        self.client, self.loop, self.token = client, loop, token
        self.per_operation: Counter = Counter()
        self.statuses: Counter = Counter()
        self.failures: list[str] = []

    def send(self, label: str, path: str, case: Any) -> None:
        token = token_for("admin") if path in LOGOUTS else self.token
        try:
            kwargs = _request_kwargs(case, token)
            request = self.client.build_request(**kwargs)
        except (httpx.HTTPError, ValueError, TypeError, UnicodeError):
            self.statuses["unsendable"] += 1  # e.g. a header value no HTTP client can put on the wire
            return
        response = asyncio.run_coroutine_threadsafe(self.client.send(request), self.loop).result(timeout=120)
        self.per_operation[label] += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.failures.append(f"{label} -> {response.status_code}: {response.text[:300]}\n    "
                                 f"{kwargs['method']} {request.url} body={request.content[:300]!r}")


def _fuzz_operation(run: _Run, operation: Any, known: dict[str, str]) -> None:
    pinned = {name: known[name] for name in known if "{" + name + "}" in operation.path}
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    if pinned:
        strategies += [operation.as_strategy(generation_mode=mode, path_parameters=pinned) for mode in modes]

    @given(case=st.one_of(*strategies))
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              derandomize=not os.environ.get("STELLARFLOW_FUZZ_RANDOM"),
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        run.send(operation.label, operation.path, case)

    check()


def _fuzz(app: FastAPI, run: _Run, known: dict[str, str]) -> None:
    """Runs in a worker thread: every operation of the schema, in turn."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    for result in schema.get_all_operations():
        _fuzz_operation(run, result.ok(), known)  # an operation schemathesis cannot read fails loudly


async def test_no_operation_answers_5xx(app: FastAPI, api: httpx.AsyncClient, admin_token: str,
                                        record_property) -> None:
    known = await _known_resources(api)
    started = time.monotonic()
    run = _Run(api, asyncio.get_running_loop(), admin_token)
    await asyncio.to_thread(_fuzz, app, run, known)
    elapsed = time.monotonic() - started
    total = sum(run.per_operation.values())
    record_property("fuzz_requests", total)
    print(f"\nschemathesis: {total} requests over {len(run.per_operation)} operations in {elapsed:.1f} s; "
          f"statuses {dict(sorted(run.statuses.items(), key=str))}")
    operations = {(m.upper(), p) for p, item in app.openapi()["paths"].items() for m in item}
    assert len(run.per_operation) == len(operations), "an operation was never called"
    assert total >= len(operations) * min(FUZZ_EXAMPLES, 10) // 2, run.per_operation  # not silently idle
    assert not run.failures, "5xx responses:\n" + "\n".join(dict.fromkeys(run.failures))


# Hypothesis seldom draws integers past 64 bits, which is where SQLite and PostgreSQL give up; try them everywhere.
HUGE = (2**63, 10**20, -(2**63) - 1)


def _integer_inputs(schema: dict[str, Any], operation: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, name) of every integer parameter and top-level integer body property of an operation."""

    def is_integer(node: dict[str, Any]) -> bool:
        node = deref(node)
        return node.get("type") == "integer" or any(is_integer(n) for n in node.get("anyOf", []))

    def deref(node: dict[str, Any]) -> dict[str, Any]:
        for _ in range(10):
            ref = node.get("$ref")
            if not ref:
                break
            target: Any = schema
            for part in ref.split("/")[1:]:
                target = target[part]
            node = target
        return node

    found = [(p["in"], p["name"]) for p in operation.get("parameters", []) if is_integer(p.get("schema", {}))]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body:
        for name, node in deref(body).get("properties", {}).items():
            if is_integer(node):
                found.append(("body", name))
    return found


async def test_huge_integers_are_not_5xx(app: FastAPI, api: httpx.AsyncClient) -> None:
    known = await _known_resources(api)
    schema = app.openapi()
    tried = 0
    for path, item in schema["paths"].items():
        url = path
        for name, value in known.items():
            url = url.replace("{" + name + "}", value)
        for method, operation in item.items():
            for where, name in _integer_inputs(schema, operation):
                for value in HUGE:
                    token = token_for("admin") if path in LOGOUTS else None
                    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {token}"}} if token else {}
                    if where == "query":
                        kwargs["params"] = {name: str(value)}
                    elif where == "body":
                        kwargs["json"] = {name: value}
                    else:
                        continue
                    response = await api.request(method.upper(), url, **kwargs)
                    tried += 1
                    assert response.status_code < 500, f"{method.upper()} {url} {where} {name}={value}: " \
                        f"{response.text}"
    assert tried
