"""Prometheus: the API's `/metrics` (requests by route template and status, latency histograms, WebSocket gauges,
the read model's figures) parses with prometheus-client's own parser and is closed to anyone without an admin
credential or the metrics token; the worker exports the Temporal SDK's metrics on its configured address."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from temporalio.client import Client
from ulid import ULID

from core.settings import get_settings
from core.temporal import connect_options
from tests.support import client_for, settings_changed, token_for
from worker import build_worker, metrics_runtime


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


async def test_api_metrics_parse_and_count_by_route_template(api: httpx.AsyncClient) -> None:
    run_id = f"run-{ULID()}"
    assert (await api.get(f"/api/v2/runs/{run_id}")).status_code == 404
    assert (await api.get("/api/v2/system/health")).status_code == 200
    response = await api.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = _families(response.text)
    requests = families["stellarflow_http_requests"]
    routes = {(s.labels["route"], s.labels["status"]) for s in requests.samples}
    assert ("/api/v2/runs/{run_id}", "404") in routes and ("/api/v2/system/health", "200") in routes
    assert not any(run_id in route for route, _ in routes)  # templates, never raw paths
    latency = families["stellarflow_http_request_duration_seconds"]
    assert any(s.name.endswith("_bucket") and s.labels.get("le") == "+Inf" for s in latency.samples)
    assert families["stellarflow_websocket_connections"].type == "gauge"
    assert families["stellarflow_websocket_drops"].type == "counter"
    for kind in ("runs", "tasks", "agents", "swarms"):
        assert families[f"stellarflow_{kind}"].type == "gauge"
    assert "process_resident_memory_bytes" in families


async def test_metrics_need_an_admin_or_the_metrics_token(app: FastAPI) -> None:
    async with client_for(app) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    async with client_for(app, token_for("viewer")) as viewer:
        assert (await viewer.get("/metrics")).status_code == 403
    with settings_changed(app, metrics_token=SecretStr("scrape-0123456789abcdef")):
        async with client_for(app, "scrape-0123456789abcdef") as scraper, client_for(app, "scrape-wrong") as wrong:
            assert (await scraper.get("/metrics")).status_code == 200
            assert (await wrong.get("/metrics")).status_code == 401
    with settings_changed(app, metrics_public=True):
        async with client_for(app) as anonymous:
            assert (await anonymous.get("/metrics")).status_code == 200


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.database("sqlite", reason="the SDK's metrics do not depend on the database")
async def test_worker_exports_temporal_sdk_metrics(temporal_client: Client) -> None:
    """A worker of its own (on a task queue of its own), with the runtime `python -m worker` builds from
    STELLARFLOW_WORKER_METRICS_ADDRESS; the session's worker is left alone."""
    address = f"127.0.0.1:{_free_port()}"
    runtime = metrics_runtime(address)
    assert runtime is not None
    settings = get_settings().model_copy(update={"task_queue": f"metrics-{ULID()}"})
    client = await Client.connect(temporal_client.service_client.config.target_host, runtime=runtime,
                                  **connect_options(settings))
    worker = build_worker(client, settings)
    running = asyncio.create_task(worker.run())
    try:
        await client.execute_workflow("MetricsSampleWorkflow", id=f"metrics-sample-{ULID()}",
                                      task_queue=settings.task_queue, result_type=dict)
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://{address}/metrics")
    finally:
        await worker.shutdown()
        await asyncio.gather(running, return_exceptions=True)
    assert response.status_code == 200
    families = _families(response.text)
    temporal = {name for name in families if name.startswith("temporal_")}
    assert {"temporal_workflow_completed", "temporal_activity_execution_latency"} & temporal, sorted(temporal)
    assert any(s.labels.get("task_queue") == settings.task_queue for name in temporal for s in families[name].samples)


async def test_the_grafana_dashboard_names_only_exposed_metrics(api: httpx.AsyncClient) -> None:
    """deploy/grafana/stellarflow.json stays in step with what /metrics exposes (the SDK's names are the worker
    test's)."""
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[1] / "deploy/grafana/stellarflow.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = {re.sub(r"_(total|bucket)$", "", name) for expr in exprs for name in re.findall(r"stellarflow_\w+", expr)}
    exposed = set(_families((await api.get("/metrics")).text))
    assert named and named <= exposed, named - exposed
