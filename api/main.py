"""The FastAPI app: `uvicorn api.main:app`. Stateless: a Temporal client plus the database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api import errors, openapi
from api.idempotency import install as install_idempotency
from api.middleware import RequestContextMiddleware, install_cors
from api.ratelimit import install as install_rate_limits
from api.routes import auth_v1, auth_v2, health, lists_v1, memory_v1, memory_v2, oauth, runs_v2, workflows_v2
from api.routes.entities import ROUTERS as ENTITY_ROUTERS
from core.auth.authenticate import TierResolver
from core.auth.secret import server_secret
from core.db import get_engine
from core.pipelines.definitions import load_directory
from core.settings import Settings, get_settings

log = logging.getLogger("stellarflow.api")


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        get_engine()
        server_secret(settings)  # a misconfigured secret fails start-up, not the first request
        for path, problem in load_directory(settings.definitions_dir):
            if problem is None:
                log.info("loaded definition %s", path)
        yield
        await app.state.rate_limiter.aclose()
        # The client is shared with whoever passed it in; nothing to close for a lazily made one either.

    app = FastAPI(
        title="StellarFlow API",
        version="0.1.0",
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
    install_cors(app, settings)  # between the two: preflights are not counted, yet carry request id and headers
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(auth_v2.router)
    app.include_router(auth_v1.router)
    app.include_router(oauth.router)
    app.include_router(workflows_v2.router)
    app.include_router(runs_v2.router)
    app.include_router(lists_v1.router)
    for entity_router in ENTITY_ROUTERS:  # agents, tasks, swarms, operations
        app.include_router(entity_router)
    app.include_router(memory_v1.router)
    app.include_router(memory_v2.router)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn api.main:app` builds the app on first access, after settings are final.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
