"""The FastAPI app: `uvicorn api.main:app`. Stateless: a Temporal client plus the database.

The routers come from the packages that own them: `api.common` (OAuth 2.0, which speaks neither dialect),
`api.dialect1` (`/api/...`, and the `/mcp/v1/*` façade) and `api.dialect2` (`/api/v2/...`); `api.mcp` mounts
the MCP server's Streamable HTTP endpoint at `/mcp`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from temporalio.client import Client

from api import common, dialect1, dialect2
from api import mcp as mcp_mount
from api.common import errors, openapi
from api.common import metrics as request_metrics
from api.common.bodylimit import install as install_body_limit
from api.common.idempotency import install as install_idempotency
from api.common.middleware import RequestContextMiddleware, install_cors
from api.common.ratelimit import install as install_rate_limits
from core.auth.authenticate import TierResolver
from core.auth.secret import server_secret
from core.pipelines.definitions import load_directory
from core.settings import Settings, get_settings
from core.system.startup import open_database
from core.system.version import package_version

log = logging.getLogger("stellarflow.api")


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        open_database()
        server_secret(settings)  # a misconfigured secret fails start-up, not the first request
        for path, problem in load_directory(settings.definitions_dir):
            if problem is None:
                log.info("loaded definition %s", path)
        # The loaded definitions' schedule triggers, as Temporal Schedules: in the background, since Temporal may
        # still be starting (the worker reconciles them too when it starts).
        schedules_task = asyncio.create_task(_reconcile_schedules(app))
        flush_task = asyncio.create_task(request_metrics.flush_forever(app.state.request_metrics,
                                                                        settings.metrics_flush_interval_s))
        yield
        await app.state.mcp.aclose()  # the MCP endpoint's session manager, if a request started it (api/mcp.py)
        schedules_task.cancel()
        await request_metrics.stop(flush_task, app.state.request_metrics)
        await app.state.rate_limiter.aclose()
        # The client is shared with whoever passed it in; nothing to close for a lazily made one either.

    app = FastAPIOffline(  # /docs and /redoc with their scripts served from here, not a CDN
        static_url="/docs/assets",
        title="StellarFlow API",
        version=package_version(),
        description="Durable orchestration for AI-agent swarms and CI/CD workflows, on Temporal.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.temporal_client = client
    app.state.temporal_lock = asyncio.Lock()
    app.state.started = time.monotonic()
    app.state.tier_resolver = TierResolver(settings)  # token -> tier name or None, for the rate limiter
    errors.install(app)
    openapi.install(app)
    install_idempotency(app, settings)  # innermost: replays still pass the rate limiter and get every header
    install_rate_limits(app, settings)  # added before RequestContextMiddleware, so it runs inside it
    install_body_limit(app, settings.max_request_bytes)  # outside the limiter: an oversized body costs no lookup
    install_cors(app, settings)  # outside both: preflights are not counted, yet carry request id and headers
    app.add_middleware(RequestContextMiddleware)
    request_metrics.install(app, settings)  # outermost: every answer counted, 429s, 413s and 500s included
    for router in (*common.ROUTERS, *dialect1.ROUTERS, *dialect2.ROUTERS):
        app.include_router(router)
    mcp_mount.install(app)  # Streamable HTTP at /mcp (the /mcp/v1 façade is a dialect 1 router)
    return app


async def _reconcile_schedules(app: FastAPI) -> None:
    from core.schedules.service import reconcile_all
    from core.temporal import connect

    state = app.state
    for _ in range(30):
        try:
            if state.temporal_client is None:
                async with state.temporal_lock:
                    if state.temporal_client is None:
                        state.temporal_client = await asyncio.wait_for(connect(state.settings), timeout=10)
            await reconcile_all(state.temporal_client, state.settings)
            return
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - Temporal not up yet: try again
            log.info("schedules not reconciled yet (%s); retrying", err)
            await asyncio.sleep(2)


def __getattr__(name: str) -> FastAPI:
    # `uvicorn api.main:app` builds the app on first access, after settings are final.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
