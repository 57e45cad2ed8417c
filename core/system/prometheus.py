"""Prometheus metrics of an API process (`GET /metrics`): requests by route template and status, latency
histograms, WebSocket connections and dropped clients, and the run/task/agent/swarm/step figures of the read model.

Request metrics are counted as requests pass (`observe_request`, from the request-metrics middleware). The read
model's figures are collected at scrape time from the projections (`ReadModelCollector`: a `GROUP BY status` on
each projection table's status index, and step events by type), cached for `CACHE_S` so that several scrapers or a
short interval cost one query per table.

The WebSocket hub increments `WS_CONNECTIONS` (a gauge: `inc()` on accept, `dec()` on close) and `WS_DROPS` (a
counter: `inc()` when a client is disconnected because its send queue overflowed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CACHE_S = 10.0
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)

disable_created_metrics()  # no `_created` series beside every counter: noise on every dashboard
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter("stellarflow_http_requests", "HTTP requests answered, by route template and status",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("stellarflow_http_request_duration_seconds",
                         "Time from a request's arrival to the end of its response, by route template",
                         ["method", "route"], buckets=LATENCY_BUCKETS_S, registry=REGISTRY)
WS_CONNECTIONS = Gauge("stellarflow_websocket_connections", "WebSocket connections open on this API process",
                       registry=REGISTRY)
WS_DROPS = Counter("stellarflow_websocket_drops", "WebSocket clients disconnected because their send queue was full",
                   registry=REGISTRY)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


class ReadModelCollector(Collector):
    """Runs, tasks, agents and swarms by status (projection tables), steps by event type (event log)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, dict[str, int]]] | None = None

    def _counts(self) -> dict[str, dict[str, int]]:
        from core.system.readmodel import status_counts

        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_S:
                self._cached = (time.monotonic(), status_counts())
            return self._cached[1]

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        try:
            counts = self._counts()
        except Exception:  # noqa: BLE001 - a scrape never fails because the database is down; the figures are absent
            return
        for kind in ("runs", "tasks", "agents", "swarms"):
            family = GaugeMetricFamily(f"stellarflow_{kind}", f"{kind.capitalize()} by status (read model)",
                                       labels=["status"])
            for status, count in sorted(counts.get(kind, {}).items()):
                family.add_metric([status], count)
            yield family
        steps = CounterMetricFamily("stellarflow_step_events", "Pipeline step events recorded, by type",
                                    labels=["type"])
        for kind, count in sorted(counts.get("step_events", {}).items()):
            steps.add_metric([kind], count)
        yield steps

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


REGISTRY.register(ReadModelCollector())


def exposition() -> bytes:
    return generate_latest(REGISTRY)
