"""Dialect 1 (`/api/...`, spec/claude-flow-api.md): plain JSON with snake_case fields, `page`/`limit`/`cursor`
lists, durations in seconds, errors as `{"error": {code, message, details}, "request_id"}`. Routes (`routes/`)
parse a request into a service call through the request schemas (`schemas/`) and answer with the presenters
(`presenters/`)."""

from fastapi import APIRouter

from api.dialect1.routes import agents, auth, health, mcp, memory, runs, swarms, system, tasks, workflows

ROUTERS: list[APIRouter] = [health.router, auth.router, workflows.router, runs.router, agents.router, tasks.router,
                            swarms.router, memory.router, system.router, mcp.router]
