"""The tools: each one calls the core service its REST route calls, as the same user, after the same permission
check (the REST route's `require(...)`), and answers the service's result as structured content.

Long work (`swarm_init`, `workflow_run`, `orchestrate`, `github_analyze`, `github_pr_enhance`, `neural_train`)
answers at once with the new id and the resource URI to poll (`stellarflow://swarms/{id}`, `stellarflow://runs/{id}`,
`stellarflow://orchestrations/{id}`, …), as the REST API answers 201/202 with a `Location`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client

from core.agents import agents, swarms, tasks
from core.agents.contracts import ControlRequest
from core.errors import DomainError
from core.github import service as github
from core.listing import PageRequest
from core.memory.service import service_for
from core.neural import service as neural
from core.orchestrations import service as orchestrations
from core.pipelines import definitions, runs
from core.settings import Settings
from core.system import status
from core.system.health import DETAILS_PERMISSION, check_components
from mcp_server import inputs as args
from mcp_server.identity import McpIdentity
from mcp_server.present import (
    analysis_body,
    dump,
    enhancement_body,
    orchestration_body,
    page_of,
    run_body,
    run_logs_body,
    training_body,
    workflow_item,
)

ClientFactory = Callable[[], Awaitable[Client]]


@dataclass(frozen=True)
class ToolContext:
    identity: McpIdentity
    settings: Settings
    client: ClientFactory  # connects on first use: tools that need no Temporal work while it is down
    started: float = 0.0  # time.monotonic() when the serving process started (the report's uptime)


Handler = Callable[[ToolContext, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input: type[BaseModel]
    permission: str | None  # what the matching REST route requires; None: every signed-in caller
    handler: Handler
    read_only: bool = False

    def input_schema(self) -> dict[str, Any]:
        return self.input.model_json_schema(by_alias=True)


TOOLS: dict[str, ToolSpec] = {}


def tool(name: str, description: str, input: type[BaseModel], permission: str | None, *, read_only: bool = False):
    def register(handler: Handler) -> Handler:
        TOOLS[name] = ToolSpec(name, description, input, permission, handler, read_only)
        return handler
    return register


def _page(number: int, size: int, **filters: str | None) -> PageRequest:
    return PageRequest(number=number, size=size, dialect=1,
                       filters={key: value for key, value in filters.items() if value is not None})


# ---- swarms ------------------------------------------------------------------------------------------------


@tool("swarm_init", "Initialize a new swarm with the given topology (and optionally its agents and tasks). "
      "Answers at once with the swarm's id; poll `resource` (or swarm_status) while it spawns its agents.",
      args.SwarmInit, "swarms:manage")
async def swarm_init(ctx: ToolContext, body: args.SwarmInit) -> dict[str, Any]:
    state = await swarms.create_swarm(await ctx.client(), ctx.settings, body.to_domain(),
                                      caller=ctx.identity.caller, tier=ctx.identity.tier)
    spec = state.spec
    return {"swarm_id": spec.id, "name": spec.name, "topology": spec.topology.value,
            "strategy": spec.strategy.value, "max_agents": spec.max_agents, "status": state.status.value,
            "created_at": spec.created_at.isoformat(), "resource": f"stellarflow://swarms/{spec.id}"}


@tool("swarm_status", "A swarm's status: its agents and tasks by status, progress, measured performance, health.",
      args.SwarmRef, "swarms:read", read_only=True)
async def swarm_status(ctx: ToolContext, body: args.SwarmRef) -> dict[str, Any]:
    return dump(await swarms.swarm_status(await ctx.client(), body.swarm_id))


@tool("swarm_control", "Pause, resume, scale, optimize or rebalance a swarm (its owner or an admin); answers once "
      "the swarm has applied the action.", args.SwarmControl, "swarms:manage")
async def swarm_control(ctx: ToolContext, body: args.SwarmControl) -> dict[str, Any]:
    outcome = await swarms.control_swarm(await ctx.client(), ctx.settings, body.swarm_id,
                                         ControlRequest(action=body.action, parameters=body.parameters),
                                         caller=ctx.identity.caller, tier=ctx.identity.tier)
    return {"swarm_id": body.swarm_id, "action": outcome.action, "status": outcome.status.value,
            "result": outcome.detail}


# ---- agents ------------------------------------------------------------------------------------------------


@tool("agent_spawn", "Create (spawn) an agent owned by you; it becomes idle once its workspace is ready.",
      args.AgentSpawn, "agents:create")
async def agent_spawn(ctx: ToolContext, body: args.AgentSpawn) -> dict[str, Any]:
    state = await agents.create_agent(await ctx.client(), ctx.settings, body.to_domain(),
                                      caller=ctx.identity.caller, tier=ctx.identity.tier)
    return {"agent_id": state.spec.id, **dump(state)}


@tool("agent_list", "List agents (filter by status, type, swarm).", args.AgentList, "agents:read", read_only=True)
async def agent_list(ctx: ToolContext, body: args.AgentList) -> dict[str, Any]:
    page = _page(body.page, body.limit, status=body.status, type=body.type, swarmId=body.swarm_id)
    result = await asyncio.to_thread(agents.list_agents, page, caller=ctx.identity.caller)
    return page_of("agents", [dump(state) for state in result.items], result)


# ---- tasks -------------------------------------------------------------------------------------------------


@tool("task_create", "Create a task owned by you: in a swarm (it assigns the task), for an agent (`agent_id`), or "
      "unassigned (then task_assign).", args.TaskCreateArgs, "tasks:execute")
async def task_create(ctx: ToolContext, body: args.TaskCreateArgs) -> dict[str, Any]:
    state = await tasks.create_task(await ctx.client(), ctx.settings, body.to_domain(), caller=ctx.identity.caller,
                                    tier=ctx.identity.tier, agent_id=body.agent_id)
    return {"task_id": state.spec.id, **dump(state)}


@tool("task_assign", "Assign your task to an agent that is yours or shared with you; `queue_position` 0 means it "
      "runs next.", args.TaskAssign, "tasks:execute")
async def task_assign(ctx: ToolContext, body: args.TaskAssign) -> dict[str, Any]:
    ack = await tasks.assign_task(await ctx.client(), body.task_id, body.agent_id, caller=ctx.identity.caller,
                                  priority=body.priority)
    return dump(ack)


@tool("task_status", "A task's status, progress and timeline.", args.TaskRef, "tasks:read", read_only=True)
async def task_status(ctx: ToolContext, body: args.TaskRef) -> dict[str, Any]:
    return dump(await tasks.get_task(await ctx.client(), body.task_id, caller=ctx.identity.caller))


@tool("task_result", "A task's result and error (null, and named in `redacted`, unless the task is yours, shared "
      "with you, or you are an admin).", args.TaskRef, "tasks:read", read_only=True)
async def task_result(ctx: ToolContext, body: args.TaskRef) -> dict[str, Any]:
    state = await tasks.get_task(await ctx.client(), body.task_id, caller=ctx.identity.caller)
    return {"task_id": state.spec.id, "status": state.status.value,
            "result": state.result.model_dump(mode="json") if state.result else None, "error": state.error,
            "redacted": sorted(state.redacted)}


@tool("task_cancel", "Cancel a task wherever it is (its owner or an admin); its workspace is rolled back.",
      args.TaskRef, "tasks:execute")
async def task_cancel(ctx: ToolContext, body: args.TaskRef) -> dict[str, Any]:
    return dump(await tasks.cancel_task(await ctx.client(), body.task_id, caller=ctx.identity.caller))


# ---- memory ------------------------------------------------------------------------------------------------


@tool("memory_store", "Store a JSON value under (namespace, key): a new entry or a new version of yours.",
      args.MemoryStore, "memory:write")
async def memory_store(ctx: ToolContext, body: args.MemoryStore) -> dict[str, Any]:
    service = service_for(ctx.settings.db_url)
    entry = await asyncio.to_thread(
        service.store, ctx.identity.memory_caller, body.namespace, body.key, body.value, tags=body.tags,
        ttl=body.ttl, access_level=body.access_level, settings=ctx.settings)
    return {**dump(entry), "resource": f"stellarflow://memory/{entry.namespace}/{entry.key}"}


@tool("memory_get", "Read a memory entry (or one of its kept versions).", args.MemoryGet, "memory:read",
      read_only=True)
async def memory_get(ctx: ToolContext, body: args.MemoryGet) -> dict[str, Any]:
    service = service_for(ctx.settings.db_url)
    return dump(await asyncio.to_thread(service.get, ctx.identity.memory_caller, body.namespace, body.key,
                                        version=body.version))


@tool("memory_search", "Full-text search over memory keys, values and tags, ranked by relevance.",
      args.MemorySearch, "memory:read", read_only=True)
async def memory_search(ctx: ToolContext, body: args.MemorySearch) -> dict[str, Any]:
    service = service_for(ctx.settings.db_url)
    result = await asyncio.to_thread(service.search, ctx.identity.memory_caller, body.query,
                                     namespace=body.namespace, tags=body.tags, limit=body.limit, offset=body.offset,
                                     field="query")
    return dump(result)


# ---- workflows and runs ------------------------------------------------------------------------------------


@tool("workflow_list", "List workflow definitions.", args.WorkflowList, "workflows:read", read_only=True)
async def workflow_list(ctx: ToolContext, body: args.WorkflowList) -> dict[str, Any]:
    result = await asyncio.to_thread(definitions.list_workflows,
                                     _page(body.page, body.limit, name=body.name, status=body.status))
    return page_of("workflows", [workflow_item(info) for info in result.items], result)


@tool("workflow_validate", "Validate a workflow definition without storing it: `valid`, and each problem with "
      "its field.", args.WorkflowValidate, "workflows:read", read_only=True)
async def workflow_validate(ctx: ToolContext, body: args.WorkflowValidate) -> dict[str, Any]:
    try:
        definition = definitions.parse(body.definition)
    except DomainError as err:
        return {"valid": False, "message": err.message, "errors": err.details or []}
    return {"valid": True, "name": definition.name, "steps": [step.id for step in definition.steps],
            "errors": []}


@tool("workflow_run", "Start a run of a workflow definition. Answers at once with the run's id; poll `resource` "
      "(or run_status with wait_s) until it ends.", args.WorkflowRun, "workflows:run")
async def workflow_run(ctx: ToolContext, body: args.WorkflowRun) -> dict[str, Any]:
    info, _ = await runs.start_run(await ctx.client(), ctx.settings, body.workflow_id, body.inputs,
                                   caller=ctx.identity.caller, version=body.version)
    return {"run_id": info.id, "workflow_id": info.workflowId, "version": info.version,
            "status": info.status.value, "resource": f"stellarflow://runs/{info.id}",
            "logs": f"stellarflow://runs/{info.id}/logs", "ui": runs.ui_link(ctx.settings, info.id)}


@tool("run_status", "A run's status and steps (waiting up to `wait_s` for a change).", args.RunRef,
      "workflows:read", read_only=True)
async def run_status(ctx: ToolContext, body: args.RunRef) -> dict[str, Any]:
    return run_body(await runs.view_run(await ctx.client(), body.run_id, caller=ctx.identity.caller,
                                        wait_s=body.wait_s))


@tool("run_logs", "A run's events and steps' output (for its starter, the workflow's owner, users it is shared "
      "with and admins; null for others).", args.RunLogs, "workflows:read", read_only=True)
async def run_logs(ctx: ToolContext, body: args.RunLogs) -> dict[str, Any]:
    info, events = await asyncio.to_thread(runs.run_logs, body.run_id, caller=ctx.identity.caller)
    return run_logs_body(info, events)


@tool("run_approve", "Approve (or, with approved=false, reject) a run's waiting approval step; only the step's "
      "approvers may.", args.RunApprove, "workflows:run")
async def run_approve(ctx: ToolContext, body: args.RunApprove) -> dict[str, Any]:
    step = await runs.decide_approval(await ctx.client(), body.run_id, body.step_id, approved=body.approved,
                                      caller=ctx.identity.caller, comment=body.comment)
    return {"run_id": body.run_id, **step.model_dump(mode="json", exclude_none=True)}


# ---- orchestrations ----------------------------------------------------------------------------------------


@tool("orchestrate", "Orchestrate a task in phases: each phase's agent slots (agent types) run as tasks on agents of "
      "`swarm_id` or on agents spawned for it, phase after phase. Answers at once with the orchestration's id and "
      "plan; poll `resource` (or orchestration_status) until it ends.", args.Orchestrate, "tasks:execute")
async def orchestrate(ctx: ToolContext, body: args.Orchestrate) -> dict[str, Any]:
    state = await orchestrations.orchestrate(await ctx.client(), ctx.settings, body.to_domain(),
                                             caller=ctx.identity.caller, tier=ctx.identity.tier)
    return {"orchestration_id": state.spec.id, **orchestration_body(state)}


@tool("orchestration_status", "An orchestration's phases, agents, tasks, progress and timeline (task outputs for "
      "its owner, those it is shared with and admins).", args.OrchestrationRef, "tasks:read", read_only=True)
async def orchestration_status(ctx: ToolContext, body: args.OrchestrationRef) -> dict[str, Any]:
    return orchestration_body(await orchestrations.get_orchestration(await ctx.client(), body.orchestration_id,
                                                                     caller=ctx.identity.caller))


@tool("orchestration_cancel", "Cancel an orchestration (its owner or an admin): its running tasks stop, the phases "
      "left are skipped, agents spawned for it are released; answers once that is done.", args.OrchestrationRef,
      "tasks:execute")
async def orchestration_cancel(ctx: ToolContext, body: args.OrchestrationRef) -> dict[str, Any]:
    return orchestration_body(await orchestrations.cancel_orchestration(await ctx.client(), body.orchestration_id,
                                                                        caller=ctx.identity.caller))


# ---- GitHub ------------------------------------------------------------------------------------------------


@tool("github_analyze", "Analyse a repository on the server's GitHub (code-quality, security, performance). Answers "
      "at once with the analysis's id; poll `resource` (or github_analysis_status) for the findings.",
      args.GitHubAnalyze, "workflows:run")
async def github_analyze(ctx: ToolContext, body: args.GitHubAnalyze) -> dict[str, Any]:
    state = await github.start_analysis(await ctx.client(), ctx.settings, body.to_domain(), ctx.identity.caller)
    return {"analysis_id": state.id, **analysis_body(state)}


@tool("github_analysis_status", "An analysis's phases, tools, findings (file, line, rule, severity) and summary; "
      "for its owner and admins.", args.GitHubAnalysisRef, "workflows:read", read_only=True)
async def github_analysis_status(ctx: ToolContext, body: args.GitHubAnalysisRef) -> dict[str, Any]:
    return analysis_body(await asyncio.to_thread(github.get_analysis, body.analysis_id, ctx.identity.caller))


@tool("github_pr_enhance", "Enhance a pull request: a security review with inline comments, and (with an agent "
      "executor on the server) a better description, tests, docs, pushed to `pr-N-enhanced`. Answers at once with "
      "the enhancement's id; poll `resource`.", args.GitHubPrEnhance, "workflows:run")
async def github_pr_enhance(ctx: ToolContext, body: args.GitHubPrEnhance) -> dict[str, Any]:
    state = await github.start_enhancement(await ctx.client(), ctx.settings, body.pr_number, body.to_domain(),
                                           ctx.identity.caller)
    return {"enhancement_id": state.id, **enhancement_body(state)}


# ---- neural ------------------------------------------------------------------------------------------------


@tool("neural_train", "Train a small network on `samples` (or on StellarFlow's own finished tasks, `source: "
      "history`). Answers at once with the training's id and its model's id; poll `resource` (or "
      "neural_training_status) until it completes.", args.NeuralTrain, "neural:train")
async def neural_train(ctx: ToolContext, body: args.NeuralTrain) -> dict[str, Any]:
    state = await neural.start_training(await ctx.client(), ctx.settings, body.to_domain(),
                                        caller=ctx.identity.caller)
    return {"training_id": state.id, **training_body(state)}


@tool("neural_training_status", "A training's progress (epoch, loss, held-out validation, time left), then its "
      "held-out figures and the model version it registered.", args.TrainingRef, "neural:read", read_only=True)
async def neural_training_status(ctx: ToolContext, body: args.TrainingRef) -> dict[str, Any]:
    return training_body(await neural.get_training(body.training_id, caller=ctx.identity.caller))


@tool("neural_predict", "Predict with a trained model (yours or shared with you): each output's value, the "
      "probabilities of categorical ones, a confidence, and which features moved the answer.", args.NeuralPredict,
      "neural:read", read_only=True)
async def neural_predict(ctx: ToolContext, body: args.NeuralPredict) -> dict[str, Any]:
    return dump(await neural.predict(ctx.settings, body.model_id, body.version, body.input,
                                     caller=ctx.identity.caller))


# ---- system ------------------------------------------------------------------------------------------------


@tool("system_status", "The platform's health: the overall status (healthy, degraded, unhealthy) for everyone; "
      "for admins also each component with its timing and the system report of /api/system/status (version, "
      "uptime, live agents, queued tasks, host, Temporal cluster).", args.Empty, None, read_only=True)
async def system_status(ctx: ToolContext, body: args.Empty) -> dict[str, Any]:
    if not ctx.identity.may(DETAILS_PERMISSION):  # as the health endpoints: internals are for admins
        return {"status": (await check_components(ctx.settings, ctx.client)).status}
    report = await status.system_status(ctx.settings, ctx.client, uptime_s=time.monotonic() - ctx.started)
    health = report.health
    return {"status": health.status,
            "components": {name: component.model_dump(mode="json", exclude_none=True)
                           for name, component in health.components.items()},
            "report": report.model_dump(mode="json", exclude={"health"})}
