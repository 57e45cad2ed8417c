"""System endpoints with real figures: status (components really checked, projections, host, Temporal's cluster),
the effective configuration without secrets, metric series from the per-minute rollups and the sampling
workflow, diagnostic bundles built by DiagnosticsWorkflow — admins only — and the report of a missing worker."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from importlib import metadata

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client
from ulid import ULID

from api.main import create_app
from core.auth.secret import server_secret
from core.settings import get_settings
from core.system.requests import Minute, write_rollups
from tests.support import client_for, poll, settings_changed, token_for

SYSTEM_GETS = ["/api/system/status", "/api/system/config", "/api/system/metrics", "/api/v2/metrics"]


@pytest.mark.parametrize("path", SYSTEM_GETS)
async def test_system_endpoints_are_for_admins(app: FastAPI, path: str) -> None:
    for role in ("viewer", "developer"):
        async with client_for(app, token_for(role)) as client:
            response = await client.get(path)
        assert response.status_code == 403, (role, response.text)
    async with client_for(app) as anonymous:
        assert (await anonymous.get(path)).status_code == 401


async def test_status_reports_what_was_checked(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/system/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "operational" and body["version"] == metadata.version("stellarflow")
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    assert body["components"] == {"database": "healthy", "temporal": "healthy", "workers": "healthy",
                                  "cache": "not_configured", "mcp_server": "healthy"}
    checks = {check["name"]: check for check in body["checks"]}
    assert set(checks) == {"database", "temporal", "workers"}
    assert all(isinstance(c["response_time"], float) and c["response_time"] >= 0 for c in checks.values())
    assert checks["workers"]["details"]["workers"] >= 1
    figures = body["metrics"]
    assert isinstance(figures["agents_active"], int) and isinstance(figures["tasks_queued"], int)
    assert 0 <= figures["cpu_usage"] <= 1 and 0 < figures["memory_usage"] <= 1
    cluster = body["cluster"]
    assert cluster["engine"] == "temporal" and cluster["server_version"]  # what the dev server says, e.g. 1.32.0
    assert cluster["namespace"] == "default" and cluster["workers"] >= 1
    assert cluster["nodes"] is None and cluster["leader"] is None  # Temporal does not say; nothing invented


async def test_a_task_queue_no_worker_polls_is_reported_degraded(temporal_client: Client, app: FastAPI,
                                                                 admin_token: str) -> None:
    """The API pointed at a task queue no worker polls (as when every worker is stopped): degraded, and the API
    still serves (200); the session's own worker is left alone."""
    lonely = create_app(get_settings().model_copy(update={"task_queue": f"unpolled-{ULID()}"}),
                        client=temporal_client)
    async with client_for(lonely, admin_token) as admin, client_for(lonely) as anonymous:
        status = (await admin.get("/api/system/status")).json()
        health_v1 = await admin.get("/api/health")
        health_v2 = await admin.get("/api/v2/system/health")
        public = await anonymous.get("/api/health")
    assert status["status"] == "degraded" and status["components"]["workers"] == "degraded"
    workers = next(check for check in status["checks"] if check["name"] == "workers")
    assert "no worker polls" in workers["error"] and workers["details"]["workers"] == 0
    assert health_v1.status_code == health_v2.status_code == public.status_code == 200
    assert health_v1.json()["status"] == public.json()["status"] == "degraded"
    assert {c["name"]: c["status"] for c in health_v1.json()["checks"]}["workers"] == "warn"
    v2 = health_v2.json()["data"]
    assert v2["status"] == "degraded" and v2["components"]["workers"]["status"] == "degraded"


async def test_config_is_effective_and_holds_no_secret(app: FastAPI, api: httpx.AsyncClient) -> None:
    secrets = {"llm_api_key": "sk-live-llm-key-0123456789", "temporal_api_key": "tcloud-key-0123456789",
               "metrics_token": "scrape-token-0123456789", "github_webhook_secret": "gh-hook-secret-0123456789"}
    with settings_changed(app, **{name: SecretStr(value) for name, value in secrets.items()},
                          slack_webhook_url="https://hooks.slack.com/services/T000/B000/xoxo-secret-path",
                          redis_url="redis://:redis-pass-0123456789@127.0.0.1:6399/0"):
        response = await api.get("/api/system/config")
    assert response.status_code == 200
    text = response.text
    server = server_secret(get_settings()).decode()
    for value in [*secrets.values(), "xoxo-secret-path", "redis-pass-0123456789", server]:
        assert value not in text, value
    body = response.json()
    assert body["settings"]["llm_api_key"] == "[REDACTED]" and body["settings"]["slack_webhook_url"] == "[REDACTED]"
    assert body["settings"]["redis_url"] == "redis://:[REDACTED]@127.0.0.1:6399/0"
    assert body["orchestrator"]["task_queue"] == get_settings().task_queue
    assert body["memory"]["backend"] in ("sqlite", "postgresql")
    assert body["security"]["rate_limit_storage"] == "redis" and body["features"]["mcp_integration"] is False


async def test_metric_series_come_from_rollups_and_samples(api: httpx.AsyncClient, temporal_client: Client) -> None:
    for _ in range(5):
        assert (await api.get("/api/v2/system/health")).status_code == 200
    assert (await api.get("/api/tasks/tk-01ARZ3NDEKTSV4RRFFQ69G5FAV")).status_code == 404  # a client error
    # A rollup older than the retention and one sample of this host, as the Schedule's workflow takes them.
    old = int((datetime.now(UTC) - timedelta(days=40)).timestamp() // 60)
    write_rollups("test:old", {old: Minute(requests=7)})
    sample = await temporal_client.execute_workflow("MetricsSampleWorkflow", id=f"metrics-sample-{ULID()}",
                                                    task_queue=get_settings().task_queue, result_type=dict)
    assert 0 <= sample["cpu"] <= 1 and sample["pruned"]["request_rollups"] >= 1

    series = (await api.get("/api/system/metrics", params={"period": "1h", "resolution": "1m"})).json()
    assert series["period"] == "1h" and series["resolution"] == "1m"
    figures = series["metrics"]
    assert sum(point["requests"] for point in figures["throughput"]) >= 6
    latest = figures["latency"][-1]
    assert 0 < latest["p50"] <= latest["p90"] <= latest["p95"] <= latest["p99"] <= latest["max"] + 0.01
    assert all(point["value"] is not None for point in figures["error_rate"])
    assert figures["resource_usage"] and 0 <= figures["resource_usage"][-1]["cpu"] <= 1

    long = (await api.get("/api/system/metrics", params={"period": "30d"})).json()
    assert long["resolution"] == "1h"
    assert sum(point["requests"] for point in long["metrics"]["throughput"]) < 10 ** 6
    assert all(point["timestamp"] >= long["from"][:13] for point in long["metrics"]["throughput"])  # 40 days ago: gone

    v2 = (await api.get("/api/v2/metrics", params={"period": "1h"})).json()["data"]
    requests = v2["metrics"]["requests"]
    assert requests["total"] >= 6 and requests["clientErrors"] >= 1
    assert requests["successful"] + requests["failed"] + requests["clientErrors"] == requests["total"]
    assert v2["metrics"]["performance"]["p50"] > 0 and v2["metrics"]["resources"]["samples"] >= 1
    assert v2["metrics"]["resources"]["diskIO"] is None  # not measured: null
    business = v2["metrics"]["business"]
    assert {"swarmsCreated", "tasksCompleted", "agentsSpawned", "avgTaskTime"} == set(business)
    only = (await api.get("/api/v2/metrics", params={"metrics": "business"})).json()["data"]["metrics"]
    assert set(only) == {"business"}

    for path, params in (("/api/system/metrics", {"period": "2h"}), ("/api/system/metrics", {"resolution": "10s"}),
                         ("/api/v2/metrics", {"metrics": "nonsense"})):
        response = await api.get(path, params=params)
        assert response.status_code == 400, (path, params, response.text)


async def test_diagnostics_bundle_is_built_redacted_and_admin_only(app: FastAPI, api: httpx.AsyncClient) -> None:
    settings = get_settings()
    leaked_key = "sf_" + "k" * 43
    (settings.data_dir / "diagnostics-test.log").write_text(
        f"boot\nAuthorization: Bearer {leaked_key}\nsecret {server_secret(settings).decode()}\n"
        "password=hunter2hunter2\nend\n")
    async with client_for(app, token_for("developer")) as developer:
        assert (await developer.post("/api/system/diagnostics", json={})).status_code == 403

    started = await api.post("/api/system/diagnostics", json={"compress": True})
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] == "generating" and body["download_url"].endswith(f"/{body['report_id']}/download")
    ready = await poll(api, f"/api/system/diagnostics/{body['report_id']}", lambda b: b["status"] != "generating")
    assert ready["status"] == "ready" and ready["size"] > 0, ready

    download = await api.get(body["download_url"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/gzip"
    text = gzip.decompress(download.content).decode()
    bundle = json.loads(text)
    assert {"versions", "config", "logs", "memory_dump", "metrics", "workers"} <= set(bundle)
    assert bundle["versions"]["stellarflow"] == metadata.version("stellarflow")
    tail = bundle["logs"]["data_dir_files"]["diagnostics-test.log"]["tail"]
    assert tail.startswith("boot") and tail.rstrip().endswith("end")
    for secret in (leaked_key, server_secret(settings).decode(), "hunter2hunter2"):
        assert secret not in text
    assert bundle["workers"]["task_queues"][0]["pollers"]
    assert bundle["memory_dump"]["worker_process_rss_bytes"] > 0

    plain = await api.post("/api/system/diagnostics", json={"include": ["versions"], "compress": False})
    report_id = plain.json()["report_id"]
    await poll(api, f"/api/system/diagnostics/{report_id}", lambda b: b["status"] == "ready")
    only = await api.get(f"/api/system/diagnostics/{report_id}/download")
    assert only.headers["content-type"] == "application/json" and set(only.json()) >= {"versions", "report_id"}
    assert "config" not in only.json()

    async with client_for(app, token_for("viewer")) as viewer:
        assert (await viewer.get(body["download_url"])).status_code == 403
    missing = await api.get("/api/system/diagnostics/diag-01ARZ3NDEKTSV4RRFFQ69G5FAV/download")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "RESOURCE_NOT_FOUND"
    bad = await api.post("/api/system/diagnostics", json={"include": ["everything"]})
    assert bad.status_code in (400, 422)
    await asyncio.sleep(0)


def _redis_up() -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
async def test_the_cache_is_checked_when_redis_is_configured(app: FastAPI, api: httpx.AsyncClient) -> None:
    with settings_changed(app, redis_url="redis://127.0.0.1:6379/0"):
        up = (await api.get("/api/system/status")).json()
    with settings_changed(app, redis_url="redis://127.0.0.1:1/0"):  # nothing listens there
        down = (await api.get("/api/system/status")).json()
        health = await api.get("/api/health")
    assert up["components"]["cache"] == "healthy" and up["status"] == "operational"
    assert down["components"]["cache"] == "unhealthy" and down["status"] == "degraded"
    assert health.status_code == 200 and health.json()["status"] == "degraded"  # rate limits fall back per process
