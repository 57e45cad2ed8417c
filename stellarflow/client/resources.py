"""The resources (`client.agents`, `client.tasks`, …), written once for both clients.

Each method builds a `Call` and hands it to the client's transport: on `StellarFlow` it returns the model, on
`AsyncStellarFlow` an awaitable of it (`await client.agents.create(...)`). Lists return a `Paginator` (iterate it
with `for` or `async for`); streams return an iterator of `StreamEvent`s (stellarflow/client/streams.py).

Which dialect each resource speaks: agents, tasks, swarms and memory use dialect 1 (`/api/...`), the claude-flow
spec's API that its SDK examples call; workflows, runs, orchestrations, github, neural, auth and keys use dialect 2
(`/api/v2/...`), where they live. Creating POSTs carry an automatic Idempotency-Key; pass `idempotency_key=` to
choose your own (e.g. to make a retry across processes safe).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from stellarflow.client import streams
from stellarflow.client._http import Call, Transport
from stellarflow.client.models import (
    Agent,
    AgentHealth,
    Analysis,
    ApiKey,
    Assignment,
    Broadcast,
    ControlResult,
    Enhancement,
    MemoryDeleted,
    MemoryEntry,
    MemoryHit,
    MemoryStats,
    Orchestration,
    Prediction,
    Run,
    RunLogs,
    StreamEvent,
    Swarm,
    SwarmStatus,
    Task,
    TaskCancellation,
    TaskResult,
    Terminated,
    TokenPair,
    Training,
    User,
    Workflow,
)
from stellarflow.client.pagination import Paginator, v1_list, v2_list

M = TypeVar("M", bound=BaseModel)
# Aliases, since classes with a `list` method shadow the builtin in their own annotations.
Names = list[str]
Groups = list[dict[str, Any]]
Items = list[Any]
Hits = list[MemoryHit]
ApiKeys = list[ApiKey]


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    """Parse a dialect-1 body (the resource itself)."""
    return lambda response: model.model_validate(response.json())


def _data(model: type[M]) -> Callable[[httpx.Response], M]:
    """Parse a dialect-2 body (`{"success": true, "data": ...}`)."""
    return lambda response: model.model_validate(response.json()["data"])


def _none(_: httpx.Response) -> None:
    return None


def _body(**fields: Any) -> dict[str, Any]:
    """A request body without the arguments left at None (the server's defaults apply)."""
    return {k: v for k, v in fields.items() if v is not None}


def _list_params(filters: dict[str, Any], **paging: Any) -> dict[str, Any]:
    return {**{k: v for k, v in paging.items() if v is not None}, **{k: v for k, v in filters.items()
                                                                      if v is not None}}


class _Resource:
    def __init__(self, transport: Transport, stream_settings: streams.StreamSettings) -> None:
        self._t = transport
        self._streams = stream_settings

    def _run(self, call: Call[Any]) -> Any:
        return self._t.run(call)

    def _poll(self, call: Callable[[float], Call[M]], done: Callable[[M], bool], timeout: float,
              interval: float) -> Any:
        """Repeat `call(remaining)` until `done` or `timeout` (TimeoutError); sync or async like the transport."""
        if self._t.is_async:
            return self._apoll(call, done, timeout, interval)
        deadline = time.monotonic() + timeout
        while True:
            item = cast(M, self._t.run(call(max(0.0, deadline - time.monotonic()))))
            if done(item):
                return item
            if time.monotonic() >= deadline:
                raise TimeoutError(f"not finished within {timeout} s: {item!r}")
            time.sleep(interval)

    async def _apoll(self, call: Callable[[float], Call[M]], done: Callable[[M], bool], timeout: float,
                     interval: float) -> M:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            item = await self._t.run(call(max(0.0, deadline - loop.time())))  # type: ignore[misc]
            if done(item):
                return item
            if loop.time() >= deadline:
                raise TimeoutError(f"not finished within {timeout} s: {item!r}")
            await asyncio.sleep(interval)


class Agents(_Resource):
    """`/api/agents`."""

    def create(self, type: str, name: str | None = None, *, capabilities: Names | None = None,
               config: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
               swarm_id: str | None = None, shared_with: Names | None = None,
               idempotency_key: str | None = None) -> Agent:
        body = _body(type=type, name=name, capabilities=capabilities, config=config, metadata=metadata,
                     swarm_id=swarm_id, shared_with=shared_with)
        return self._run(Call("POST", "/api/agents", _model(Agent), json=body, creating=True,
                              idempotency_key=idempotency_key))

    def get(self, agent_id: str) -> Agent:
        return self._run(Call("GET", f"/api/agents/{quote(agent_id)}", _model(Agent)))

    get_status = get  # the spec's `client.agents.getStatus(id)`

    def list(self, *, limit: int | None = None, sort: str | None = None, order: str | None = None,
             **filters: Any) -> Paginator[Agent]:
        """Filters as keyword arguments (`status="idle"`, `type="coder"`, `swarm_id=...`)."""
        return Paginator(self._t, v1_list("/api/agents", "agents", Agent,
                                          _list_params(filters, limit=limit, sort=sort, order=order)))

    def update(self, agent_id: str, *, name: str | None = None, config: dict[str, Any] | None = None,
               metadata: dict[str, Any] | None = None, capabilities: Names | None = None,
               shared_with: Names | None = None) -> Agent:
        body = _body(name=name, config=config, metadata=metadata, capabilities=capabilities,
                     shared_with=shared_with)
        return self._run(Call("PUT", f"/api/agents/{quote(agent_id)}", _model(Agent), json=body))

    def terminate(self, agent_id: str) -> Terminated:
        return self._run(Call("DELETE", f"/api/agents/{quote(agent_id)}", _model(Terminated)))

    def health(self, agent_id: str) -> AgentHealth:
        return self._run(Call("GET", f"/api/agents/{quote(agent_id)}/health", _model(AgentHealth)))

    def stream(self, agent_id: str, *, since: str | None = None) -> Iterator[StreamEvent]:
        """The agent's events (`agent.*`), resuming after `since`."""
        return streams.open_stream(self._t, self._streams, streams.Topic("agents", agent_id), since=since)


def _task_result(response: httpx.Response) -> TaskResult:
    """The result inside a task's detail; a task that ended without one (an executor that failed before it could
    report) reads as `success=False` with the task's error, so `result.success` is always there."""
    task = Task.model_validate(response.json())
    if task.result is not None:
        return task.result
    return TaskResult(success=task.status == "completed", error=task.error)


class Tasks(_Resource):
    """`/api/tasks`."""

    def create(self, type: str | None = None, description: str = "", *, priority: str | None = None,
               requirements: dict[str, Any] | None = None, constraints: dict[str, Any] | None = None,
               metadata: dict[str, Any] | None = None, swarm_id: str | None = None,
               shared_with: Names | None = None, idempotency_key: str | None = None) -> Task:
        body = _body(type=type, description=description, priority=priority, requirements=requirements,
                     constraints=constraints, metadata=metadata, swarm_id=swarm_id, shared_with=shared_with)
        return self._run(Call("POST", "/api/tasks", _model(Task), json=body, creating=True,
                              idempotency_key=idempotency_key))

    def get(self, task_id: str) -> Task:
        return self._run(Call("GET", f"/api/tasks/{quote(task_id)}", _model(Task)))

    get_status = get  # the spec's `client.tasks.get_status(id)`: `.status` in pending … completed | failed

    def get_result(self, task_id: str) -> TaskResult:
        return self._run(Call("GET", f"/api/tasks/{quote(task_id)}", _task_result))

    def list(self, *, limit: int | None = None, sort: str | None = None, order: str | None = None,
             **filters: Any) -> Paginator[Task]:
        """Filters: `status`, `agent_id`, `priority`, `swarm_id`, `type`, `parent_id`."""
        return Paginator(self._t, v1_list("/api/tasks", "tasks", Task,
                                          _list_params(filters, limit=limit, sort=sort, order=order)))

    def update(self, task_id: str, *, priority: str | None = None, deadline: str | None = None,
               description: str | None = None, metadata: dict[str, Any] | None = None,
               shared_with: Names | None = None) -> Task:
        body = _body(priority=priority, deadline=deadline, description=description, metadata=metadata,
                     shared_with=shared_with)
        return self._run(Call("PUT", f"/api/tasks/{quote(task_id)}", _model(Task), json=body))

    def cancel(self, task_id: str) -> TaskCancellation:
        return self._run(Call("DELETE", f"/api/tasks/{quote(task_id)}", _model(TaskCancellation)))

    def assign(self, task_id: str, agent_id: str, *, priority_override: str | None = None) -> Assignment:
        body = _body(agent_id=agent_id, priority_override=priority_override)
        return self._run(Call("POST", f"/api/tasks/{quote(task_id)}/assign", _model(Assignment), json=body))

    def wait(self, task_id: str, *, timeout: float = 300.0, interval: float = 1.0) -> Task:
        """Poll until the task is completed, failed or cancelled (TimeoutError after `timeout` seconds)."""
        return self._poll(lambda _: Call("GET", f"/api/tasks/{quote(task_id)}", _model(Task)),
                          lambda task: task.done, timeout, interval)

    def stream(self, task_id: str, *, since: str | None = None) -> Iterator[StreamEvent]:
        """The task's events (`task.progress`, `task.completed`, …), resuming after `since`."""
        return streams.open_stream(self._t, self._streams, streams.Topic("tasks", task_id), since=since)


class Swarms(_Resource):
    """`/api/swarms` (and `/api/v2/swarms/{id}` to stop and delete)."""

    def create(self, name: str, *, topology: str | None = None, objective: str | None = None,
               strategy: str | None = None, config: dict[str, Any] | None = None,
               agents: Groups | None = None, initial_agents: Groups | None = None,
               agent_config: dict[str, Any] | None = None, tasks: Items | None = None,
               shared_with: Names | None = None, idempotency_key: str | None = None) -> Swarm:
        """`agents` (the spec's name) or `initial_agents`: `[{"type": "tester", "count": 2}, ...]`."""
        body = _body(name=name, topology=topology, objective=objective, strategy=strategy, config=config,
                     agents=agents, initial_agents=initial_agents, agent_config=agent_config, tasks=tasks,
                     shared_with=shared_with)
        return self._run(Call("POST", "/api/swarms", _model(Swarm), json=body, creating=True,
                              idempotency_key=idempotency_key))

    def list(self, *, limit: int | None = None, sort: str | None = None, order: str | None = None,
             **filters: Any) -> Paginator[Swarm]:
        """Filters: `status`, `topology`, `strategy`."""
        return Paginator(self._t, v1_list("/api/swarms", "swarms", Swarm,
                                          _list_params(filters, limit=limit, sort=sort, order=order)))

    def status(self, swarm_id: str) -> SwarmStatus:
        return self._run(Call("GET", f"/api/swarms/{quote(swarm_id)}/status", _model(SwarmStatus)))

    get_status = status

    def control(self, swarm_id: str, action: str, parameters: dict[str, Any] | None = None) -> ControlResult:
        """`pause`, `resume`, `scale` (`{agent_type, count, operation}`), `optimize`, `rebalance`."""
        return self._run(Call("POST", f"/api/swarms/{quote(swarm_id)}/control", _model(ControlResult),
                              json=_body(action=action, parameters=parameters)))

    def pause(self, swarm_id: str) -> ControlResult:
        return self.control(swarm_id, "pause")

    def resume(self, swarm_id: str) -> ControlResult:
        return self.control(swarm_id, "resume")

    def scale(self, swarm_id: str, agent_type: str, count: int, operation: str = "add") -> ControlResult:
        return self.control(swarm_id, "scale", {"agent_type": agent_type, "count": count, "operation": operation})

    def broadcast(self, swarm_id: str, content: str, *, type: str = "directive", target: str = "all",
                  priority: str = "medium") -> Broadcast:
        message = {"type": type, "content": content, "target": target, "priority": priority}
        return self._run(Call("POST", f"/api/swarms/{quote(swarm_id)}/broadcast", _model(Broadcast),
                              json={"message": message}))

    def stop(self, swarm_id: str) -> Any:
        """Ends the swarm's agents and the swarm (dialect 2 `POST /api/v2/swarms/{id}/stop`; the raw body)."""
        return self._run(Call("POST", f"/api/v2/swarms/{quote(swarm_id)}/stop", lambda r: r.json()["data"]))

    def delete(self, swarm_id: str) -> None:
        return self._run(Call("DELETE", f"/api/v2/swarms/{quote(swarm_id)}", _none))

    def stream_progress(self, swarm_id: str, *, since: str | None = None) -> Iterator[StreamEvent]:
        """The swarm's progress updates (`swarm.progress` events): each has `.progress` (0..1)."""
        return streams.open_stream(self._t, self._streams, streams.Topic("swarms", swarm_id), since=since,
                                   progress_only=True)


class Memory(_Resource):
    """`/api/memory`: versioned values under (namespace, key)."""

    def store(self, key: str, value: Any, *, namespace: str | None = None, ttl: int | None = None,
              tags: Names | None = None, access_level: str | None = None,
              idempotency_key: str | None = None) -> MemoryEntry:
        body = _body(key=key, namespace=namespace, ttl=ttl, tags=tags, access_level=access_level)
        body["value"] = value
        return self._run(Call("POST", "/api/memory", _model(MemoryEntry), json=body, creating=True,
                              idempotency_key=idempotency_key))

    def get(self, key: str, *, namespace: str | None = None, version: int | None = None) -> MemoryEntry:
        return self._run(Call("GET", f"/api/memory/{quote(key)}", _model(MemoryEntry),
                              params={"namespace": namespace, "version": version}))

    def update(self, key: str, value: Any, *, namespace: str | None = None, merge: bool = False,
               ttl: int | None = None, tags: Names | None = None) -> MemoryEntry:
        body = _body(namespace=namespace, merge=merge, ttl=ttl, tags=tags)
        body["value"] = value
        return self._run(Call("PUT", f"/api/memory/{quote(key)}", _model(MemoryEntry), json=body))

    def delete(self, key: str, *, namespace: str | None = None, cascade: bool = False) -> MemoryDeleted:
        return self._run(Call("DELETE", f"/api/memory/{quote(key)}", _model(MemoryDeleted),
                              params={"namespace": namespace, "cascade": "true" if cascade else None}))

    def query(self, pattern: str | None = None, *, namespace: str | None = None, tags: Names | None = None,
              limit: int = 20, offset: int = 0) -> Hits:
        """Full-text search, best match first (`relevance`, `snippet`)."""
        params = {"pattern": pattern, "namespace": namespace, "tags": ",".join(tags) if tags else None,
                  "limit": limit, "offset": offset}
        return self._run(Call("GET", "/api/memory/query", lambda r: [MemoryHit.model_validate(hit) for hit in
                                                                    r.json()["results"]], params=params))

    def stats(self) -> MemoryStats:
        return self._run(Call("GET", "/api/memory/stats", _model(MemoryStats)))


_ID = re.compile(r"[^a-z0-9-]+")


def workflow_id_for(source: str | Path | dict[str, Any]) -> str:
    """The id `workflows.apply` stores a definition under when none is given: a file's stem (what the server's
    definitions folder uses), or a dict's `id`, else its `name` in lower-case-with-dashes."""
    if isinstance(source, dict):
        if source.get("id"):
            return str(source["id"])
        stem = str(source.get("name") or "")
    else:
        stem = Path(source).stem
    slug = _ID.sub("-", stem.lower()).strip("-")
    if not slug:
        raise ValueError("cannot derive a workflow id: pass workflow_id=")
    return slug


class Workflows(_Resource):
    """`/api/v2/workflows`: definitions (JSON or YAML) and their versions."""

    @staticmethod
    def _definition(definition: dict[str, Any] | str, shared_with: Names | None) -> dict[str, Any]:
        if isinstance(definition, str):  # YAML text: sent as is, so errors name its lines
            if shared_with is not None:
                raise ValueError("shared_with needs a dict definition (or put sharedWith in the YAML)")
            return {"content": definition, "headers": {"Content-Type": "application/yaml"}}
        body = {k: v for k, v in definition.items() if k != "id"}
        if shared_with is not None:
            body["sharedWith"] = shared_with
        return {"json": body}

    def create(self, definition: dict[str, Any] | str, *, shared_with: Names | None = None,
               idempotency_key: str | None = None) -> Workflow:
        """A new workflow with a generated id (a dict, or YAML text)."""
        return self._run(Call("POST", "/api/v2/workflows", _data(Workflow), creating=True,
                              idempotency_key=idempotency_key, **self._definition(definition, shared_with)))

    def put(self, workflow_id: str, definition: dict[str, Any] | str, *,
            shared_with: Names | None = None) -> Workflow:
        """Create the workflow under `workflow_id`, or store a new version if the definition changed."""
        return self._run(Call("PUT", f"/api/v2/workflows/{quote(workflow_id)}", _data(Workflow),
                              **self._definition(definition, shared_with)))

    def apply(self, source: str | Path | dict[str, Any], *, workflow_id: str | None = None,
              shared_with: Names | None = None) -> Workflow:
        """A YAML (or JSON) file's path, or a dict → `PUT /api/v2/workflows/{id}`: created if new, a new version if
        changed, unchanged otherwise — so applying the same file twice is safe. The id: `workflow_id`, else
        `workflow_id_for(source)`."""
        workflow_id = workflow_id or workflow_id_for(source)
        definition: dict[str, Any] | str = source if isinstance(source, dict) else Path(source).read_text()
        return self.put(workflow_id, definition, shared_with=shared_with)

    def get(self, workflow_id: str) -> Workflow:
        return self._run(Call("GET", f"/api/v2/workflows/{quote(workflow_id)}", _data(Workflow)))

    def list(self, *, page_size: int | None = None, sort: str | None = None, **filters: Any) -> Paginator[Workflow]:
        """Filters: `name`, `status` (sent as `filter[name]=…`)."""
        params = _list_params({f"filter[{k}]": v for k, v in filters.items()}, sort=sort)
        if page_size is not None:
            params["page[size]"] = page_size
        return Paginator(self._t, v2_list("/api/v2/workflows", Workflow, params))

    def delete(self, workflow_id: str) -> None:
        return self._run(Call("DELETE", f"/api/v2/workflows/{quote(workflow_id)}", _none))


class Runs(_Resource):
    """`/api/v2/runs`: start, read, wait for, list, cancel, approve, and stream runs of workflows."""

    def start(self, workflow_id: str, inputs: dict[str, Any] | None = None, *, version: int | None = None,
              idempotency_key: str | None = None) -> Run:
        """Start a run (202); with an Idempotency-Key (automatic) a retry gets the same run back."""
        body = _body(inputs=inputs, version=version)
        return self._run(Call("POST", f"/api/v2/workflows/{quote(workflow_id)}/runs", _data(Run), json=body,
                              creating=True, idempotency_key=idempotency_key))

    def get(self, run_id: str, *, wait: float | None = None) -> Run:
        """The run; with `wait` (seconds, at most 60) the server answers as soon as it ends, or after `wait`."""
        params = {"wait": wait} if wait else None
        timeout = (wait + 30) if wait else None
        return self._run(Call("GET", f"/api/v2/runs/{quote(run_id)}", _data(Run), params=params, timeout=timeout))

    def wait(self, run_id: str, *, timeout: float = 600.0) -> Run:
        """Block until the run has succeeded, failed or been cancelled (long polls of `GET ?wait=`, no busy
        loop); TimeoutError after `timeout` seconds."""
        return self._poll(lambda remaining: Call("GET", f"/api/v2/runs/{quote(run_id)}", _data(Run),
                                                 params={"wait": round(min(60.0, max(remaining, 0.0)), 3)},
                                                 timeout=min(60.0, remaining) + 30),
                          lambda run: run.done, timeout, 0.0)

    def list(self, *, workflow_id: str | None = None, status: str | None = None, page_size: int | None = None,
             sort: str | None = None) -> Paginator[Run]:
        params = _list_params({"filter[workflowId]": workflow_id, "filter[status]": status}, sort=sort)
        if page_size is not None:
            params["page[size]"] = page_size
        return Paginator(self._t, v2_list("/api/v2/runs", Run, params))

    def cancel(self, run_id: str) -> Run:
        return self._run(Call("POST", f"/api/v2/runs/{quote(run_id)}/cancel", _data(Run)))

    def approve(self, run_id: str, step_id: str, comment: str | None = None) -> Any:
        return self._run(Call("POST", f"/api/v2/runs/{quote(run_id)}/steps/{quote(step_id)}/approve",
                              lambda r: r.json()["data"], json=_body(comment=comment)))

    def reject(self, run_id: str, step_id: str, comment: str | None = None) -> Any:
        return self._run(Call("POST", f"/api/v2/runs/{quote(run_id)}/steps/{quote(step_id)}/reject",
                              lambda r: r.json()["data"], json=_body(comment=comment)))

    def logs(self, run_id: str) -> RunLogs:
        return self._run(Call("GET", f"/api/v2/runs/{quote(run_id)}/logs", _data(RunLogs)))

    def stream(self, run_id: str, *, since: str | None = None) -> Iterator[StreamEvent]:
        """The run's events (`run.*`, `step.*`), resuming after `since`."""
        return streams.open_stream(self._t, self._streams, streams.Topic("runs", run_id), since=since)


class Orchestrations(_Resource):
    """`/api/v2/tasks/orchestrate` and `/api/v2/orchestrations/{id}`: a task in phases of agent slots
    (docs/orchestrations.md)."""

    def create(self, task: str, phases: Groups, *, strategy: str | None = None, max_duration: float | None = None,
               required_capabilities: Names | None = None, swarm_id: str | None = None,
               agent_config: dict[str, Any] | None = None, shared_with: Names | None = None,
               idempotency_key: str | None = None) -> Orchestration:
        """`phases`: `[{"name": "build", "agents": ["coder", "tester"], "duration": 600, "requirements": {...},
        "tasks": [...]}]` as the REST body has them; `max_duration` (seconds) and `required_capabilities` are the
        body's `constraints`. Answers the plan (202); `wait(id)` for the end."""
        constraints = _body(maxDuration=max_duration, requiredCapabilities=required_capabilities)
        body = _body(task=task, strategy=strategy, requirements={"phases": phases, "constraints": constraints},
                     swarmId=swarm_id, agentConfig=agent_config, sharedWith=shared_with)
        return self._run(Call("POST", "/api/v2/tasks/orchestrate", _data(Orchestration), json=body, creating=True,
                              idempotency_key=idempotency_key))

    def get(self, orchestration_id: str) -> Orchestration:
        return self._run(Call("GET", f"/api/v2/orchestrations/{quote(orchestration_id)}", _data(Orchestration)))

    def cancel(self, orchestration_id: str) -> Orchestration:
        """Its owner or an admin; answers once its tasks have stopped and its spawned agents are released."""
        return self._run(Call("POST", f"/api/v2/orchestrations/{quote(orchestration_id)}/cancel",
                              _data(Orchestration)))

    def wait(self, orchestration_id: str, *, timeout: float = 600.0, interval: float = 1.0) -> Orchestration:
        """Poll until it has completed, failed or been cancelled (TimeoutError after `timeout` seconds)."""
        return self._poll(lambda _: Call("GET", f"/api/v2/orchestrations/{quote(orchestration_id)}",
                                         _data(Orchestration)), lambda item: item.done, timeout, interval)

    def stream(self, orchestration_id: str, *, since: str | None = None) -> Iterator[StreamEvent]:
        """Its events (`orchestration.*`, docs/events.md), ending after its terminal `orchestration.status`."""
        return streams.open_stream(self._t, self._streams, streams.Topic("orchestrations", orchestration_id),
                                   since=since)


class GitHub(_Resource):
    """`/api/v2/github`: repository analyses and pull-request enhancements on the server's GitHub
    (docs/github.md)."""

    def analyze(self, repository: str, *, analysis_types: Names | None = None, branch: str | None = None,
                depth: str | None = None, idempotency_key: str | None = None) -> Analysis:
        """`repository` is owner/name; `analysis_types` of code-quality, security, performance (default: all)."""
        body = _body(repository=repository, analysisType=analysis_types, branch=branch, depth=depth)
        return self._run(Call("POST", "/api/v2/github/repos/analyze", _data(Analysis), json=body, creating=True,
                              idempotency_key=idempotency_key))

    def get_analysis(self, analysis_id: str) -> Analysis:
        return self._run(Call("GET", f"/api/v2/github/analysis/{quote(analysis_id)}", _data(Analysis)))

    def wait_analysis(self, analysis_id: str, *, timeout: float = 600.0, interval: float = 1.0) -> Analysis:
        """Poll until the analysis has completed or failed (TimeoutError after `timeout` seconds)."""
        return self._poll(lambda _: Call("GET", f"/api/v2/github/analysis/{quote(analysis_id)}", _data(Analysis)),
                          lambda item: item.done, timeout, interval)

    def enhance_pr(self, repository: str, pr_number: int, *, enhancements: dict[str, bool] | None = None,
                   auto_commit: bool | None = None, wait: float | None = None,
                   idempotency_key: str | None = None) -> Enhancement:
        """`enhancements` by the spec's names (`securityReview`, `addTests`, …; default: the security review).
        With `wait` (seconds, at most 120) the server answers once it ends within that time."""
        body = _body(repository=repository, enhancements=enhancements, autoCommit=auto_commit)
        params = {"wait": "true", "timeout": wait} if wait else None
        return self._run(Call("POST", f"/api/v2/github/pr/{int(pr_number)}/enhance", _data(Enhancement), json=body,
                              params=params, creating=True, idempotency_key=idempotency_key,
                              timeout=(wait + 30) if wait else None))

    def get_enhancement(self, enhancement_id: str) -> Enhancement:
        return self._run(Call("GET", f"/api/v2/github/enhancements/{quote(enhancement_id)}", _data(Enhancement)))


class Neural(_Resource):
    """`/api/v2/neural`: train a small network, follow the training, predict with the model (docs/neural.md)."""

    def train(self, pattern_type: str, samples: Groups | None = None, *, source: str | None = None,
              validation_split: float | None = None, epochs: int | None = None, learning_rate: float | None = None,
              batch_size: int | None = None, hidden_layers: list[int] | None = None, seed: int | None = None,
              model_id: str | None = None, shared_with: Names | None = None,
              idempotency_key: str | None = None) -> Training:
        """`samples`: `[{"input": {...}, "output": {...}}]` (text outputs are classified, numbers regressed), or
        `source="history"` to learn from this server's finished tasks; `model_id` trains a new version of it."""
        data = _body(source=source, samples=samples, validationSplit=validation_split)
        configuration = _body(epochs=epochs, learningRate=learning_rate, batchSize=batch_size,
                              hiddenLayers=hidden_layers, seed=seed)
        body = _body(patternType=pattern_type, trainingData=data, configuration=configuration, modelId=model_id,
                     sharedWith=shared_with)
        return self._run(Call("POST", "/api/v2/neural/train", _data(Training), json=body, creating=True,
                              idempotency_key=idempotency_key))

    def get_training(self, training_id: str) -> Training:
        return self._run(Call("GET", f"/api/v2/neural/training/{quote(training_id)}", _data(Training)))

    def wait_training(self, training_id: str, *, timeout: float = 600.0, interval: float = 0.5) -> Training:
        """Poll until the training has completed, failed or been cancelled (TimeoutError after `timeout`)."""
        return self._poll(lambda _: Call("GET", f"/api/v2/neural/training/{quote(training_id)}", _data(Training)),
                          lambda item: item.done, timeout, interval)

    def predict(self, model_id: str, input: dict[str, Any], *, version: int | None = None) -> Prediction:
        body = _body(modelId=model_id, version=version)
        body["input"] = input
        return self._run(Call("POST", "/api/v2/neural/predict", _data(Prediction), json=body))

    def stream_training(self, training_id: str, *, since: str | None = None) -> Iterator[StreamEvent]:
        """Its events (`training.progress` per epoch, …), ending after `training.completed|failed|cancelled`."""
        return streams.open_stream(self._t, self._streams, streams.Topic("training", training_id), since=since)


class Keys(_Resource):
    """`/api/v2/auth/keys`: API keys act as their owner, with the owner's role."""

    def create(self, name: str, *, expires_in: int | None = None, idempotency_key: str | None = None) -> ApiKey:
        """The secret is in `.key` of this answer only."""
        return self._run(Call("POST", "/api/v2/auth/keys", _data(ApiKey), json=_body(name=name, expiresIn=expires_in),
                              creating=True, idempotency_key=idempotency_key))

    def list(self) -> ApiKeys:
        return self._run(Call("GET", "/api/v2/auth/keys",
                              lambda r: [ApiKey.model_validate(item) for item in r.json()["data"]]))

    def revoke(self, key_id: str) -> None:
        return self._run(Call("DELETE", f"/api/v2/auth/keys/{quote(key_id)}", _none))


class Auth(_Resource):
    """`/api/v2/auth`: sign in (the client then uses the token), who am I, register, refresh, sign out."""

    def _keep(self, response: httpx.Response) -> TokenPair:
        pair = TokenPair.model_validate(response.json()["data"])
        self._t.set_token(pair.access_token)
        return pair

    def login(self, username: str, password: str) -> TokenPair:
        return self._run(Call("POST", "/api/v2/auth/login", self._keep,
                              json={"username": username, "password": password}))

    def refresh(self, refresh_token: str) -> TokenPair:
        return self._run(Call("POST", "/api/v2/auth/refresh", self._keep, json={"refreshToken": refresh_token}))

    def logout(self) -> None:
        return self._run(Call("POST", "/api/v2/auth/logout", _none))

    def me(self) -> User:
        return self._run(Call("GET", "/api/v2/auth/me", _data(User)))

    def register(self, username: str, password: str, *, email: str | None = None,
                 full_name: str | None = None) -> User:
        """Only when the operator opened registration (403 `REGISTRATION_CLOSED` otherwise)."""
        body = _body(username=username, password=password, email=email, fullName=full_name)
        return self._run(Call("POST", "/api/v2/auth/register", _data(User), json=body, creating=True))
