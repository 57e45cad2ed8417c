"""Request metrics (pure ASGI, outermost): every HTTP response's status and duration go to this process's per-minute
rollups (core/system/requests.py, flushed to the database) and to the Prometheus counters (core/system/prometheus.py),
labelled by route template (`/api/v2/runs/{run_id}`, never the raw path, so ids cannot explode the series);
requests no route matched are `unmatched`. `/metrics` itself is not counted: scrapes would dominate the figures.

The cost on the request path is two clock reads, a dict update and two prometheus-client increments."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.system.prometheus import observe_request
from core.system.requests import RequestAggregator

log = logging.getLogger("stellarflow.metrics")
NOT_COUNTED = ("/metrics",)


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, aggregator: RequestAggregator) -> None:
        self.app = app
        self.aggregator = aggregator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NOT_COUNTED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.aggregator.observe(status, elapsed * 1000)
            observe_request(scope.get("method", "GET"), route, status, elapsed)


def install(app: Any, settings: Any) -> RequestAggregator:
    """Add the middleware (call last: outermost) and keep the aggregator on `app.state.request_metrics`."""
    aggregator = RequestAggregator()
    app.state.request_metrics = aggregator
    app.add_middleware(RequestMetricsMiddleware, aggregator=aggregator)
    return aggregator


async def flush_forever(aggregator: RequestAggregator, every_s: float) -> None:
    """The background flush of the API's lifespan; the final flush happens at shutdown (`flush_now`)."""
    while True:
        await asyncio.sleep(every_s)
        await asyncio.to_thread(aggregator.flush)


async def stop(task: asyncio.Task[None], aggregator: RequestAggregator) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.to_thread(aggregator.flush)
