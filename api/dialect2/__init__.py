"""Dialect 2 (`/api/v2/...`, spec/stellarflow-api.md): JSON:API-style envelopes — `{"success", "data", "meta",
"links"}`, `page[number]`/`page[size]`, `filter[x]`, `include`, `sort=-createdAt` — camelCase fields, durations in
milliseconds. Routes (`routes/`) parse a request into a service call through the request schemas (`schemas/`) and
answer with the presenters (`presenters/`) inside the envelopes of `jsonapi.py`."""

from fastapi import APIRouter

from api.dialect2.routes import (
    agents,
    artifacts,
    auth,
    github,
    health,
    memory,
    metrics,
    neural,
    operations,
    orchestrations,
    runs,
    sources,
    swarms,
    tasks,
    webhooks,
    workflows,
    ws,
)

ROUTERS: list[APIRouter] = [health.router, auth.router, workflows.router, runs.router, swarms.router, agents.router,
                            tasks.router, operations.router, memory.router, webhooks.router, sources.router,
                            artifacts.router, metrics.router, orchestrations.router, neural.router, github.router,
                            ws.router]
