"""`stellarflow agents|tasks|swarms|memory|workflows`: every object the API serves, from the terminal.

Agents, tasks, swarms and memory go through dialect 1 (`/api/...`, the shapes the spec's own examples use),
workflows through dialect 2 (`/api/v2/workflows`). Like `cli.client`, these are ordinary API calls with the CLI's
credential, so they obey the same owner and read rules as any client; reads take `--output table|json|yaml`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.http_client import check, client
from cli.output import Column, OutputOption, console, emit, err_console

agents_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True, help="Agents: spawn, inspect, stop.")
tasks_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                        help="Tasks: create, assign, follow, cancel.")
swarms_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                         help="Swarms: agents working on one objective.")
memory_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                         help="Shared memory: namespaced, versioned entries.")
workflows_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                            help="Stored workflow definitions.")


def register(app: typer.Typer) -> None:
    for name, group in (("workflows", workflows_app), ("agents", agents_app), ("tasks", tasks_app),
                        ("swarms", swarms_app), ("memory", memory_app)):
        app.add_typer(group, name=name)


def _json_option(value: str | None, name: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as err:
        raise typer.BadParameter(f"{name} must be a JSON object: {err}") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter(f"{name} must be a JSON object")
    return parsed


def _day(value: str | None) -> str:
    return (value or "")[:19].replace("T", " ")


# ---- workflows ----------------------------------------------------------------------------------------------------


@workflows_app.command("list")
def workflows_list(output: OutputOption = "table") -> None:
    """Stored definitions, newest first. Example: `stellarflow workflows list`"""
    with client() as http:
        items = check(http.get("/api/v2/workflows", params={"page[size]": 100}))["data"]
    emit(items, output, [Column("id", lambda w: w["id"], identifier=True), Column("name", lambda w: w.get("name")),
                         Column("v", lambda w: w.get("version")),
                         Column("updated", lambda w: _day(w.get("updatedAt")))])


@workflows_app.command("show")
def workflows_show(workflow_id: Annotated[str, typer.Argument(metavar="WORKFLOW_ID")],
                   output: OutputOption = "yaml") -> None:
    """A stored definition (YAML by default). Example: `stellarflow workflows show ci -o json`"""
    with client() as http:
        item = check(http.get(f"/api/v2/workflows/{workflow_id}"))["data"]
    emit(item, output, [Column("id", lambda w: w["id"], identifier=True), Column("name", lambda w: w.get("name")),
                        Column("v", lambda w: w.get("version"))])


@workflows_app.command("apply")
def workflows_apply(file: Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False)],
                    workflow_id: Annotated[str | None, typer.Option("--id", metavar="WORKFLOW_ID",
                                                                    help="default: the file's name")] = None) -> None:
    """Create or update a stored workflow from a definition file; a changed definition becomes a new version.
    Example: `stellarflow workflows apply definitions/ci.yaml`"""
    from core.dsl.validate import DefinitionError, load_file

    try:
        definition = load_file(file)
    except DefinitionError as error:
        err_console.print(str(error), markup=False)
        raise typer.Exit(2) from None
    with client() as http:
        item = check(http.put(f"/api/v2/workflows/{workflow_id or file.stem}", json=definition.dump()))["data"]
    console.print(f"[green]✓[/] {item['id']} version {item.get('version')}")


@workflows_app.command("delete")
def workflows_delete(workflow_id: Annotated[str, typer.Argument(metavar="WORKFLOW_ID")]) -> None:
    """Delete a stored workflow (its runs stay readable). Example: `stellarflow workflows delete old-ci`"""
    with client() as http:
        check(http.delete(f"/api/v2/workflows/{workflow_id}"))
    console.print(f"[green]✓[/] deleted {workflow_id}")


# ---- agents -------------------------------------------------------------------------------------------------------

AGENT_COLUMNS = [Column("id", lambda a: a["id"], identifier=True), Column("name", lambda a: a.get("name")),
                 Column("type", lambda a: a.get("type")), Column("status", lambda a: a.get("status"), status=True),
                 Column("task", lambda a: a.get("current_task") or "")]


@agents_app.command("list")
def agents_list(
    status: Annotated[str | None, typer.Option(metavar="STATUS", help="active, idle, busy, terminated…")] = None,
    agent_type: Annotated[str | None, typer.Option("--type", metavar="TYPE")] = None,
    limit: Annotated[int, typer.Option(max=100)] = 50,
    output: OutputOption = "table",
) -> None:
    """Your agents (and those shared with you). Example: `stellarflow agents list --type coder`"""
    params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {}),
                              **({"type": agent_type} if agent_type else {})}
    with client() as http:
        items = check(http.get("/api/agents", params=params))["agents"]
    emit(items, output, AGENT_COLUMNS)


@agents_app.command("show")
def agents_show(agent_id: Annotated[str, typer.Argument(metavar="AGENT_ID")], output: OutputOption = "yaml") -> None:
    """One agent: config, metrics, current task. Example: `stellarflow agents show ag-01J…`"""
    with client() as http:
        emit(check(http.get(f"/api/agents/{agent_id}")), output, AGENT_COLUMNS)


@agents_app.command("spawn")
def agents_spawn(
    agent_type: Annotated[str, typer.Argument(metavar="TYPE", help="coder, tester, reviewer… (an unknown one is "
                                                                    "refused with the list)")],
    name: Annotated[str | None, typer.Option(metavar="NAME")] = None,
    config: Annotated[str | None, typer.Option(metavar="JSON", help='e.g. \'{"executor": "shell"}\'')] = None,
    swarm: Annotated[str | None, typer.Option(metavar="SWARM_ID", help="join this swarm")] = None,
) -> None:
    """Start an agent (a durable workflow) that takes tasks. Example:
    `stellarflow agents spawn coder --config '{"executor": "shell"}'`"""
    body: dict[str, Any] = {"type": agent_type, "config": _json_option(config, "--config"),
                            **({"name": name} if name else {}), **({"swarm_id": swarm} if swarm else {})}
    with client() as http:
        agent = check(http.post("/api/agents", json=body))
    console.print(f"[green]✓[/] agent [bold]{agent['id']}[/] ({agent.get('type')}, {agent.get('status')})")


@agents_app.command("terminate")
def agents_terminate(agent_id: Annotated[str, typer.Argument(metavar="AGENT_ID")]) -> None:
    """Stop an agent; its running task is handed back. Example: `stellarflow agents terminate ag-01J…`"""
    with client() as http:
        check(http.delete(f"/api/agents/{agent_id}"))
    console.print(f"[green]✓[/] terminating {agent_id}")


# ---- tasks --------------------------------------------------------------------------------------------------------

TASK_COLUMNS = [Column("id", lambda t: t["id"], identifier=True), Column("type", lambda t: t.get("type")),
                Column("status", lambda t: t.get("status"), status=True), Column("agent",
                                                                                 lambda t: t.get("assigned_agent")),
                Column("progress", lambda t: "" if t.get("progress") is None else f"{t['progress']:.0%}"),
                Column("description", lambda t: (t.get("description") or "")[:60])]


@tasks_app.command("list")
def tasks_list(
    status: Annotated[str | None, typer.Option(metavar="STATUS", help="pending, running, completed, failed…")] = None,
    agent: Annotated[str | None, typer.Option(metavar="AGENT_ID")] = None,
    limit: Annotated[int, typer.Option(max=100)] = 50,
    output: OutputOption = "table",
) -> None:
    """Tasks you may read, newest first. Example: `stellarflow tasks list --status running`"""
    params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {}),
                              **({"agent_id": agent} if agent else {})}
    with client() as http:
        items = check(http.get("/api/tasks", params=params))["tasks"]
    emit(items, output, TASK_COLUMNS)


@tasks_app.command("show")
def tasks_show(task_id: Annotated[str, typer.Argument(metavar="TASK_ID")], output: OutputOption = "yaml") -> None:
    """One task with its result or error. Example: `stellarflow tasks show tk-01J…`"""
    with client() as http:
        emit(check(http.get(f"/api/tasks/{task_id}")), output, TASK_COLUMNS)


@tasks_app.command("create")
def tasks_create(
    description: Annotated[str, typer.Argument(metavar="DESCRIPTION")],
    task_type: Annotated[str | None, typer.Option("--type", metavar="TYPE")] = None,
    priority: Annotated[str, typer.Option(metavar="PRIORITY", help="low, medium, high, critical")] = "medium",
    requirements: Annotated[str | None, typer.Option(metavar="JSON", help='e.g. \'{"command": "make test"}\'')]
    = None,
    swarm: Annotated[str | None, typer.Option(metavar="SWARM_ID", help="queue it in this swarm")] = None,
) -> None:
    """Create a task; assign it with `tasks assign`, or queue it in a swarm. Example:
    `stellarflow tasks create "run the tests" --requirements '{"command": "make test"}'`"""
    body: dict[str, Any] = {"description": description, "priority": priority,
                            "requirements": _json_option(requirements, "--requirements"),
                            **({"type": task_type} if task_type else {}), **({"swarm_id": swarm} if swarm else {})}
    with client() as http:
        task = check(http.post("/api/tasks", json=body))
    console.print(f"[green]✓[/] task [bold]{task['id']}[/] ({task.get('status')})")


@tasks_app.command("assign")
def tasks_assign(task_id: Annotated[str, typer.Argument(metavar="TASK_ID")],
                 agent_id: Annotated[str, typer.Argument(metavar="AGENT_ID")]) -> None:
    """Give a task to an agent, which starts it. Example: `stellarflow tasks assign tk-01J… ag-01J…`"""
    with client() as http:
        task = check(http.post(f"/api/tasks/{task_id}/assign", json={"agent_id": agent_id}))
    console.print(f"[green]✓[/] {task_id} → {agent_id} ({task.get('status')})")


@tasks_app.command("cancel")
def tasks_cancel(task_id: Annotated[str, typer.Argument(metavar="TASK_ID")]) -> None:
    """Cancel a task: its processes stop within about a second. Example: `stellarflow tasks cancel tk-01J…`"""
    with client() as http:
        task = check(http.delete(f"/api/tasks/{task_id}"))
    console.print(f"[green]✓[/] {task_id}: {task.get('status')}")


# ---- swarms -------------------------------------------------------------------------------------------------------

SWARM_COLUMNS = [Column("id", lambda s: s["id"], identifier=True), Column("name", lambda s: s.get("name")),
                 Column("topology", lambda s: s.get("topology")),
                 Column("status", lambda s: s.get("status"), status=True),
                 Column("agents", lambda s: len(s.get("agents") or [])),
                 Column("progress", lambda s: "" if s.get("progress") is None else f"{s['progress']:.0%}")]


@swarms_app.command("list")
def swarms_list(output: OutputOption = "table") -> None:
    """Your swarms (and those shared with you). Example: `stellarflow swarms list -o json`"""
    with client() as http:
        emit(check(http.get("/api/swarms"))["swarms"], output, SWARM_COLUMNS)


@swarms_app.command("show")
def swarms_show(swarm_id: Annotated[str, typer.Argument(metavar="SWARM_ID")], output: OutputOption = "yaml") -> None:
    """A swarm's status: agents, tasks, progress, performance. Example: `stellarflow swarms show sw-01J…`"""
    with client() as http:
        emit(check(http.get(f"/api/swarms/{swarm_id}/status")), output, SWARM_COLUMNS)


@swarms_app.command("create")
def swarms_create(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    topology: Annotated[str, typer.Option(metavar="TOPOLOGY", help="mesh, hierarchical, ring, star")] = "mesh",
    objective: Annotated[str | None, typer.Option(metavar="TEXT")] = None,
    agents: Annotated[list[str] | None, typer.Option("--agents", "-a", metavar="TYPE:COUNT",
                                                     help="agents to start with; repeat for more")] = None,
    agent_config: Annotated[str | None, typer.Option(metavar="JSON", help="config of the agents it spawns")] = None,
) -> None:
    """Create a swarm and its first agents. Example:
    `stellarflow swarms create api --topology hierarchical -a coder:2 -a tester:1`"""
    initial = []
    for spec in agents or []:
        kind, _, count = spec.partition(":")
        if not kind or not (count or "1").isdigit():
            raise typer.BadParameter(f"--agents expects TYPE:COUNT, got {spec!r}")
        initial.append({"type": kind, "count": int(count or 1)})
    body: dict[str, Any] = {"name": name, "topology": topology, "agents": initial,
                            "agent_config": _json_option(agent_config, "--agent-config"),
                            **({"objective": objective} if objective else {})}
    with client() as http:
        swarm = check(http.post("/api/swarms", json=body))
    console.print(f"[green]✓[/] swarm [bold]{swarm['id']}[/] ({swarm.get('topology')}, {swarm.get('status')})")


@swarms_app.command("control")
def swarms_control(
    swarm_id: Annotated[str, typer.Argument(metavar="SWARM_ID")],
    action: Annotated[str, typer.Argument(metavar="ACTION", help="pause, resume, scale, optimize, rebalance")],
    parameter: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE",
                                                        help="e.g. -p agent_type=coder -p count=2")] = None,
) -> None:
    """Pause, resume, scale, optimize or rebalance a swarm. Example:
    `stellarflow swarms control sw-01J… scale -p agent_type=coder -p count=2 -p operation=add`"""
    parameters: dict[str, Any] = {}
    for pair in parameter or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--param expects KEY=VALUE, got {pair!r}")
        parameters[key] = int(value) if value.isdigit() else value
    with client() as http:
        done = check(http.post(f"/api/swarms/{swarm_id}/control", json={"action": action, "parameters": parameters}))
    console.print(f"[green]✓[/] {action}: {done.get('status') or done}")


# ---- memory -------------------------------------------------------------------------------------------------------


@memory_app.command("set")
def memory_set(
    key: Annotated[str, typer.Argument(metavar="KEY")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="JSON, or else stored as text")],
    namespace: Annotated[str, typer.Option("--namespace", "-n", metavar="NAMESPACE")] = "default",
    ttl: Annotated[int | None, typer.Option(metavar="SECONDS")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", metavar="TAG", help="repeat for more")] = None,
) -> None:
    """Store (or version) an entry. Example: `stellarflow memory set stack '{"db": "postgres"}' -n project-alpha`"""
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        parsed = value
    body: dict[str, Any] = {"key": key, "value": parsed, "namespace": namespace, "tags": tag or [],
                            **({"ttl": ttl} if ttl is not None else {})}
    with client() as http:
        entry = check(http.post("/api/memory", json=body))
    console.print(f"[green]✓[/] {namespace}/{key} version {entry.get('version')}")


@memory_app.command("get")
def memory_get(key: Annotated[str, typer.Argument(metavar="KEY")],
               namespace: Annotated[str, typer.Option("--namespace", "-n", metavar="NAMESPACE")] = "default",
               output: OutputOption = "json") -> None:
    """Read an entry (JSON by default). Example: `stellarflow memory get stack -n project-alpha`"""
    with client() as http:
        entry = check(http.get(f"/api/memory/{key}", params={"namespace": namespace}))
    emit(entry, output, [Column("key", lambda e: e["key"]), Column("v", lambda e: e.get("version")),
                         Column("value", lambda e: json.dumps(e.get("value")))])


@memory_app.command("search")
def memory_search(pattern: Annotated[str, typer.Argument(metavar="PATTERN")],
                  namespace: Annotated[str | None, typer.Option("--namespace", "-n", metavar="NAMESPACE")] = None,
                  limit: Annotated[int, typer.Option(max=100)] = 20, output: OutputOption = "table") -> None:
    """Full-text search over entries you may read, best first. Example: `stellarflow memory search "api design"`"""
    params: dict[str, Any] = {"pattern": pattern, "limit": limit, **({"namespace": namespace} if namespace else {})}
    with client() as http:
        results = check(http.get("/api/memory/query", params=params))["results"]
    emit(results, output, [Column("namespace", lambda r: r.get("namespace")),
                           Column("key", lambda r: r.get("key"), identifier=True),
                           Column("relevance", lambda r: r.get("relevance")),
                           Column("snippet", lambda r: r.get("snippet"))])


@memory_app.command("delete")
def memory_delete(
    key: Annotated[str, typer.Argument(metavar="KEY")],
    namespace: Annotated[str, typer.Option("--namespace", "-n", metavar="NAMESPACE")] = "default",
) -> None:
    """Delete an entry and its versions. Example: `stellarflow memory delete stack -n project-alpha`"""
    with client() as http:
        check(http.delete(f"/api/memory/{key}", params={"namespace": namespace}))
    console.print(f"[green]✓[/] deleted {namespace}/{key}")
