"""Resources: what a client can read by URI, with the same permission and ownership rules as the tools.

Templates (`resources/templates/list`) name the shapes; `resources/list` lists concrete ones the caller can see
(recent runs, workflows, swarms, memory entries), a page of each.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.agents import swarms
from core.errors import NotFound, ValidationFailed
from core.github import service as github
from core.listing import PageRequest
from core.memory.service import service_for
from core.neural import service as neural
from core.orchestrations import service as orchestrations
from core.pipelines import definitions, runs
from mcp_server.present import (
    analysis_body,
    dump,
    enhancement_body,
    orchestration_body,
    run_body,
    run_logs_body,
    training_body,
)
from mcp_server.tools import ToolContext

SCHEME = "stellarflow://"
LISTED = 20  # per kind in resources/list


@dataclass(frozen=True)
class Template:
    uri_template: str
    name: str
    description: str
    permission: str
    pattern: re.Pattern[str]
    read: Callable[[ToolContext, dict[str, str]], Awaitable[dict[str, Any]]]


async def _run(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    return run_body(await runs.view_run(await ctx.client(), part["id"], caller=ctx.identity.caller))


async def _run_logs(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    info, events = await asyncio.to_thread(runs.run_logs, part["id"], caller=ctx.identity.caller)
    return run_logs_body(info, events)


async def _workflow(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    return (await asyncio.to_thread(definitions.get_workflow, part["id"])).model_dump(mode="json")


async def _memory(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    service = service_for(ctx.settings.db_url)
    return dump(await asyncio.to_thread(service.get, ctx.identity.memory_caller, part["namespace"], part["key"]))


async def _swarm(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    return dump(await swarms.swarm_status(await ctx.client(), part["id"]))


async def _orchestration(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    return orchestration_body(await orchestrations.get_orchestration(await ctx.client(), part["id"],
                                                                     caller=ctx.identity.caller))


async def _training(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    return training_body(await neural.get_training(part["id"], caller=ctx.identity.caller))


async def _analysis(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    return analysis_body(await asyncio.to_thread(github.get_analysis, part["id"], ctx.identity.caller))


async def _enhancement(ctx: ToolContext, part: dict[str, str]) -> dict[str, Any]:
    return enhancement_body(await asyncio.to_thread(github.get_enhancement, part["id"], ctx.identity.caller))


_SEGMENT = r"[^/]+"
TEMPLATES = [
    Template("stellarflow://runs/{id}", "run", "A run: status, inputs, steps (outputs for those entitled)",
             "workflows:read", re.compile(rf"^runs/(?P<id>{_SEGMENT})$"), _run),
    Template("stellarflow://runs/{id}/logs", "run logs", "A run's steps' output and events", "workflows:read",
             re.compile(rf"^runs/(?P<id>{_SEGMENT})/logs$"), _run_logs),
    Template("stellarflow://workflows/{id}", "workflow", "A workflow definition and its metadata",
             "workflows:read", re.compile(rf"^workflows/(?P<id>{_SEGMENT})$"), _workflow),
    Template("stellarflow://memory/{namespace}/{key}", "memory entry", "A memory entry (the key may contain /)",
             "memory:read", re.compile(rf"^memory/(?P<namespace>{_SEGMENT})/(?P<key>.+)$"), _memory),
    Template("stellarflow://swarms/{id}", "swarm", "A swarm's status: agents, tasks, progress, performance",
             "swarms:read", re.compile(rf"^swarms/(?P<id>sw-{_SEGMENT})$"), _swarm),
    Template("stellarflow://orchestrations/{id}", "orchestration",
             "An orchestration: phases, agents, tasks (outputs for those entitled), progress, timeline",
             "tasks:read", re.compile(rf"^orchestrations/(?P<id>{_SEGMENT})$"), _orchestration),
    Template("stellarflow://training/{id}", "training", "A neural training: progress, held-out figures, model",
             "neural:read", re.compile(rf"^training/(?P<id>{_SEGMENT})$"), _training),
    Template("stellarflow://github/analysis/{id}", "GitHub analysis",
             "A repository analysis: phases, tools, findings, summary (its owner's)", "workflows:read",
             re.compile(rf"^github/analysis/(?P<id>{_SEGMENT})$"), _analysis),
    Template("stellarflow://github/enhancements/{id}", "PR enhancement",
             "A pull-request enhancement: each part's outcome, the review, the preview branch (its owner's)",
             "workflows:read", re.compile(rf"^github/enhancements/(?P<id>{_SEGMENT})$"), _enhancement),
]


def match(uri: str) -> tuple[Template, dict[str, str]]:
    """The template a URI belongs to and its parts; NotFound for any other URI."""
    if uri.startswith(SCHEME):
        rest = uri[len(SCHEME):]
        for template in TEMPLATES:
            found = template.pattern.match(rest)
            if found:
                return template, found.groupdict()
    raise NotFound("resource", uri[:200])


async def read(ctx: ToolContext, uri: str) -> str:
    """The resource as JSON text, after the permission its template needs."""
    template, parts = match(uri)
    ctx.identity.require(template.permission)
    return json.dumps(await template.read(ctx, parts), separators=(",", ":"))


async def listing(ctx: ToolContext) -> list[dict[str, Any]]:
    """Concrete resources the caller may read: `{uri, name, description}` each, newest first per kind."""
    page = PageRequest(number=1, size=LISTED, dialect=1)
    found: list[dict[str, Any]] = []
    identity = ctx.identity
    if identity.may("workflows:read"):
        for info in (await asyncio.to_thread(definitions.list_workflows, page)).items:
            found.append({"uri": f"{SCHEME}workflows/{info.id}", "name": f"workflow {info.name}",
                          "description": info.description})
        for run in (await asyncio.to_thread(runs.list_runs, page, caller=identity.caller)).items:
            found.append({"uri": f"{SCHEME}runs/{run.id}", "name": f"run {run.id} ({run.status.value})",
                          "description": f"a run of {run.workflowId}"})
            found.append({"uri": f"{SCHEME}runs/{run.id}/logs", "name": f"logs of run {run.id}", "description": None})
    if identity.may("swarms:read"):
        for state in (await asyncio.to_thread(swarms.list_swarms, page)).items:
            found.append({"uri": f"{SCHEME}swarms/{state.spec.id}", "name": f"swarm {state.spec.name}",
                          "description": state.spec.objective})
    if identity.may("memory:read"):
        service = service_for(ctx.settings.db_url)
        try:
            result = await asyncio.to_thread(service.search, identity.memory_caller, None, limit=LISTED)
        except ValidationFailed:
            result = None
        for hit in result.hits if result else []:
            found.append({"uri": f"{SCHEME}memory/{hit.namespace}/{hit.key}", "name": f"memory {hit.namespace}/"
                          f"{hit.key}", "description": None})
    return found
