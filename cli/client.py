"""The commands that talk to a running stack over HTTP: `run`, `runs list|show|cancel|rerun`, `keys create|list|revoke`,
`schedules list|pause|resume|trigger|backfill`, `sources add|list|show|sync|remove`.

They go through the API like any other client (see `cli.http_client`), so they need the stack up but never
touch the database or Temporal themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.http_client import check, client
from cli.output import STATUS_STYLE, Column, OutputOption, console, emit, err_console

runs_app = typer.Typer(pretty_exceptions_enable=False, help="Inspect and cancel runs.", no_args_is_help=True)
keys_app = typer.Typer(pretty_exceptions_enable=False, help="Your API keys (through the API).", no_args_is_help=True)
schedules_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                            help="A workflow's schedule triggers (Temporal Schedules).")
sources_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                          help="Git repositories whose definitions are synced.")


def register(app: typer.Typer) -> None:
    """Add `run` and the `runs` and `keys` groups to the app, in the order `--help` lists them."""
    from cli.events import events

    app.command()(run)
    app.command("events")(events)
    app.add_typer(runs_app, name="runs")
    app.add_typer(schedules_app, name="schedules")
    app.add_typer(sources_app, name="sources")
    app.add_typer(keys_app, name="keys")


# ---- runs --------------------------------------------------------------------------------------------


def _parse_inputs(pairs: list[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"--input expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        inputs[key.strip()] = value
    return inputs


def _steps_table(run: dict) -> Table:
    table = Table(title=f"{run['id']}  [{STATUS_STYLE.get(run['status'], '')}]{run['status']}[/]", expand=False)
    for column in ("step", "action", "status", "attempts", "duration", "detail"):
        table.add_column(column)
    for step in run.get("steps", []):
        duration = ""
        if step.get("startedAt") and step.get("endedAt"):
            from datetime import datetime

            start = datetime.fromisoformat(step["startedAt"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(step["endedAt"].replace("Z", "+00:00"))
            duration = f"{(end - start).total_seconds():.2f}s"
        detail = step.get("error") or step.get("reason") or ""
        if step.get("approval", {}).get("status") == "waiting":
            detail = "waiting for approval"
        if step.get("reusedFrom"):
            detail = f"reused from {step['reusedFrom']}"
        if (step.get("concurrency") or {}).get("state") == "queued":
            detail = f"queued in {step['concurrency']['group']} (position {step['concurrency'].get('position')})"
        style = STATUS_STYLE.get(step["status"], "")
        table.add_row(step["id"], step["action"], f"[{style}]{step['status']}[/]", str(step.get("attempts", 0)),
                      duration, detail[:80])
    return table


def _failure_tails(run: dict, lines: int = 10) -> None:
    """Why each failed step failed: the last lines of its stderr (else stdout), which the status alone hides."""
    for step in run.get("steps", []):
        for unit in step.get("instances") or [step]:
            if unit.get("status") != "failed":
                continue
            outputs = unit.get("outputs") or {}
            stream = "stderr" if (outputs.get("stderr") or "").strip() else "stdout"
            tail = (outputs.get(stream) or "").rstrip("\n").splitlines()[-lines:]
            if tail:
                err_console.print(f"── {unit['id']} failed; last {len(tail)} line(s) of its {stream}:",
                                  style="red", markup=False, highlight=False)
                for line in tail:
                    err_console.print(f"   {line}", markup=False, highlight=False)


def _approval_hints(run: dict, shown: set[str], api_url: str) -> None:
    """Once per waiting gate: its prompt, and how to decide it from here or with curl."""
    for step in run.get("steps", []):
        approval = step.get("approval") or {}
        if approval.get("status") != "waiting" or step["id"] in shown:
            continue
        shown.add(step["id"])
        console.print(f"⏸ {step['id']} waits for approval: {approval.get('message') or '(no message)'}",
                      style="yellow", markup=False, highlight=False)
        console.print(f"  approve: stellarflow runs approve {run['id']} {step['id']} -m \"…\"   "
                      f"(or: stellarflow runs reject {run['id']} {step['id']})", markup=False, highlight=False)
        console.print(f"  curl -s -X POST {api_url}/api/v2/runs/{run['id']}/steps/{step['id']}/approve "
                      f'-H "Authorization: Bearer $TOKEN"', markup=False, highlight=False)


def run(
    target: Annotated[str, typer.Argument(help="a definition file, or the id of a stored workflow",
                                          metavar="FILE_OR_ID")],
    input: Annotated[list[str] | None, typer.Option("--input", "-i", help="an input of the run; repeat for more",
                                                    metavar="KEY=VALUE")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="show live progress until the run ends")] = False,
) -> None:
    """Start a run of a definition file (stored or updated first) or of a stored workflow; with --watch, follow
    it live and exit non-zero unless it succeeds.
    Example: `stellarflow run definitions/fan-out.yaml -i regions=eu,us -w`"""
    inputs = _parse_inputs(input or [])
    with client() as http:
        path = Path(target)
        workflow_id = target
        if path.exists():
            from core.dsl.validate import DefinitionError, load_file

            try:
                definition = load_file(path)
            except DefinitionError as error:
                err_console.print(str(error), markup=False)
                raise typer.Exit(2) from None
            workflow_id = path.stem
            check(http.put(f"/api/v2/workflows/{workflow_id}", json=definition.dump()))
        started = check(http.post(f"/api/v2/workflows/{workflow_id}/runs", json={"inputs": inputs}))["data"]
        console.print(f"run [bold]{started['id']}[/] started — Temporal UI: {started['links']['temporalUi']}")
        if not watch:
            return
        from cli.events import follow_run

        hinted: set[str] = set()
        base = str(http.base_url).rstrip("/")
        # the run's stream, with live log lines; approval prompts as the run reaches them
        current = follow_run(http, started["id"], _steps_table,
                             on_update=lambda run: _approval_hints(run, hinted, base))
        _failure_tails(current)
        if current.get("error"):
            err_console.print(f"[red]{current['error']}[/]")
        raise typer.Exit(0 if current["status"] == "succeeded" else 1)


@runs_app.command("list")
def runs_list(
    workflow: Annotated[str | None, typer.Option(help="only runs of this workflow", metavar="WORKFLOW_ID")] = None,
    status: Annotated[str | None, typer.Option(help="only runs in this status: pending, running, succeeded, "
                                                    "failed, cancelled", metavar="STATUS")] = None,
    limit: Annotated[int, typer.Option(max=100, help="at most this many, newest first")] = 20,
    output: OutputOption = "table",
) -> None:
    """The newest runs. Example: `stellarflow runs list --status failed -o json`"""
    params: dict[str, Any] = {"page[size]": limit}
    if status:
        params["filter[status]"] = status
    url = f"/api/v2/workflows/{workflow}/runs" if workflow else "/api/v2/runs"
    with client() as http:
        body = check(http.get(url, params=params))
    emit(body["data"], output, [
        Column("run", lambda r: r["id"], identifier=True),
        Column("workflow", lambda r: r["workflowId"]),
        Column("v", lambda r: r["version"]),
        Column("status", lambda r: r["status"], status=True),
        Column("created", lambda r: (r.get("createdAt") or "")[:19].replace("T", " ")),
        Column("duration", lambda r: f"{r['durationMs'] / 1000:.2f}s" if r.get("durationMs") is not None else ""),
    ])


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID")],
    watch: Annotated[bool, typer.Option("--watch", "-w", help="follow the run live, with its log lines")] = False,
) -> None:
    """A run's steps: status, attempts, duration, and why a failed one failed. Example:
    `stellarflow runs show run-01J9Z… --watch`"""
    with client() as http:
        if watch:
            from cli.events import follow_run

            body = follow_run(http, run_id, _steps_table)
        else:
            body = check(http.get(f"/api/v2/runs/{run_id}"))["data"]
            console.print(_steps_table(body))
    _failure_tails(body)
    console.print(f"Temporal UI: {body['links']['temporalUi']}")


@runs_app.command("cancel")
def runs_cancel(run_id: Annotated[str, typer.Argument(metavar="RUN_ID")]) -> None:
    """Cancel a run: its running step's processes are stopped, the rest is skipped. Example:
    `stellarflow runs cancel run-01J9Z…`"""
    with client() as http:
        body = check(http.post(f"/api/v2/runs/{run_id}/cancel"))["data"]
    console.print(f"cancellation requested for [bold]{body['id']}[/] (status {body['status']})")


@runs_app.command("rerun")
def runs_rerun(
    run_id: str,
    failed: Annotated[bool, typer.Option("--failed", help="run again what did not succeed")] = False,
    from_step: Annotated[str | None, typer.Option("--from", help="run again from this step on")] = None,
) -> None:
    """Re-run a finished run: steps that succeeded before the chosen point reuse their outputs. Example:
    `stellarflow runs rerun run-01J9Z… --failed`"""
    if not failed and not from_step:
        raise typer.BadParameter("say --failed or --from STEP")
    body: dict[str, Any] = {"failedOnly": failed} if not from_step else {"fromStep": from_step}
    with client() as http:
        started = check(http.post(f"/api/v2/runs/{run_id}/rerun", json=body))["data"]
    reused = [s["id"] for s in started.get("steps", []) if s.get("reusedFrom")]
    console.print(f"run [bold]{started['id']}[/] started (re-run of {run_id}) — Temporal UI: "
                  f"{started['links']['temporalUi']}")
    if reused:
        console.print(f"reused: {', '.join(reused)}")


# ---- schedules ----------------------------------------------------------------------------------------


@schedules_app.command("list")
def schedules_list(workflow: Annotated[str, typer.Argument(metavar="WORKFLOW_ID")],
                   output: OutputOption = "table") -> None:
    """A workflow's schedules, with their next and last run. Example: `stellarflow schedules list nightly`"""
    with client() as http:
        items = check(http.get(f"/api/v2/workflows/{workflow}/schedules"))["data"]

    def spec(item: dict[str, Any]) -> str:
        text = item.get("cron") or f"every {item['every'] / 1000:g}s"
        return text + (f" ({item['timezone']})" if item.get("timezone") else "")

    emit(items, output, [
        Column("n", lambda i: i["n"]),
        Column("schedule", lambda i: i["scheduleId"], identifier=True),
        Column("spec", spec),
        Column("paused", lambda i: "yes" if i["paused"] else ""),
        Column("next run", lambda i: (i.get("nextRun") or "")[:19]),
        Column("last run", lambda i: (i.get("lastRun") or "")[:19]),
    ])


def _schedule(workflow: str, n: int, action: str, body: dict[str, Any] | None = None) -> None:
    with client() as http:
        item = check(http.post(f"/api/v2/workflows/{workflow}/schedules/{n}/{action}", json=body))["data"]
    console.print(f"[green]✓[/] {action}: {item['scheduleId']} (paused: {item['paused']}, next run: "
                  f"{item.get('nextRun') or '-'})")


@schedules_app.command("pause")
def schedules_pause(workflow: Annotated[str, typer.Argument(metavar="WORKFLOW_ID")],
                    n: Annotated[int, typer.Argument(metavar="N", help="which schedule (0: the first)")] = 0) -> None:
    """Stop a schedule from firing until resumed. Example: `stellarflow schedules pause nightly`"""
    _schedule(workflow, n, "pause")


@schedules_app.command("resume")
def schedules_resume(workflow: Annotated[str, typer.Argument(metavar="WORKFLOW_ID")],
                     n: Annotated[int, typer.Argument(metavar="N", help="which schedule (0: the first)")] = 0) -> None:
    """Let a paused schedule fire again. Example: `stellarflow schedules resume nightly`"""
    _schedule(workflow, n, "resume")


@schedules_app.command("trigger")
def schedules_trigger(workflow: str, n: Annotated[int, typer.Argument()] = 0) -> None:
    """Start a run now, as the schedule would. Example: `stellarflow schedules trigger nightly`"""
    _schedule(workflow, n, "trigger")


@schedules_app.command("backfill")
def schedules_backfill(
    workflow: str,
    start: Annotated[str, typer.Option(help="ISO time, e.g. 2025-01-01T00:00:00Z")],
    end: Annotated[str, typer.Option(help="ISO time")],
    n: Annotated[int, typer.Argument()] = 0,
    overlap: Annotated[str | None, typer.Option(help="skip, buffer, buffer-all, allow-all, …")] = None,
) -> None:
    """Run the schedule for every time it would have fired between START and END. Example:
    `stellarflow schedules backfill nightly --start 2026-12-01T00:00:00Z --end 2026-12-02T00:00:00Z`"""
    _schedule(workflow, n, "backfill", {"start": start, "end": end, "overlap": overlap})


# ---- sources ------------------------------------------------------------------------------------------


@sources_app.command("add")
def sources_add(
    url: Annotated[str, typer.Argument(help="https://…/repo.git (file:// for admins)")],
    name: Annotated[str | None, typer.Option(help="a name for it")] = None,
    branch: Annotated[str, typer.Option()] = "main",
    folder: Annotated[str, typer.Option(help="the folder of definitions in the repository")] = "definitions",
    token_env: Annotated[str | None, typer.Option("--token-env", help="environment variable holding a token "
                                                  "(kept server-side, sent as an Authorization header)")] = None,
    interval: Annotated[float | None, typer.Option(help="seconds between scheduled syncs; 0 = push only")] = None,
    webhook_secret: Annotated[str | None, typer.Option(help="name of your webhook secret for its pushes")] = None,
) -> None:
    """Sync the definitions of a git repository's branch and folder (first sync starts now). Example:
    `stellarflow sources add https://github.com/acme/pipelines.git --token-env GH_TOKEN --interval 300`"""
    import os

    body: dict[str, Any] = {"name": name or url.rstrip("/").rsplit("/", 1)[-1], "url": url, "branch": branch,
                            "folder": folder, "interval": interval, "webhookSecret": webhook_secret}
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise typer.BadParameter(f"{token_env} is not set")
        body["token"] = token
    with client() as http:
        created = check(http.post("/api/v2/sources", json=body))["data"]
    console.print(f"[green]✓[/] source [bold]{created['id']}[/] ({created['url']} {created['branch']}:"
                  f"{created['folder']}) — syncing")


@sources_app.command("list")
def sources_list(output: OutputOption = "table") -> None:
    """The git repositories whose definitions are synced. Example: `stellarflow sources list -o yaml`"""
    with client() as http:
        items = check(http.get("/api/v2/sources"))["data"]
    emit(items, output, [
        Column("id", lambda i: i["id"], identifier=True),
        Column("name", lambda i: i["name"]),
        Column("url", lambda i: i["url"]),
        Column("branch:folder", lambda i: f"{i['branch']}:{i['folder']}"),
        Column("status", lambda i: i["status"]),
        Column("commit", lambda i: (i.get("lastCommit") or "")[:12]),
        Column("last sync", lambda i: (i.get("lastSyncAt") or "")[:19]),
    ])


@sources_app.command("show")
def sources_show(source_id: str) -> None:
    """The last sync: workflows created, versioned, deleted, and invalid files with their lines. Example:
    `stellarflow sources show src-01J…`"""
    with client() as http:
        item = check(http.get(f"/api/v2/sources/{source_id}"))["data"]
    result = item.get("lastResult") or {}
    console.print(f"{item['name']}: {item['status']} at {(item.get('lastCommit') or '-')[:12]}")
    for key in ("created", "versioned", "unchanged", "deleted"):
        if result.get(key):
            console.print(f"  {key}: {', '.join(result[key])}")
    for error in result.get("errors") or []:
        err_console.print(f"  {error['file']}:{error.get('line') or ''}: {error['message']}", markup=False)
    if result.get("error"):
        err_console.print(f"  {result['error']}", markup=False)


@sources_app.command("sync")
def sources_sync(source_id: Annotated[str, typer.Argument(metavar="SOURCE_ID")]) -> None:
    """Sync a source now instead of waiting for its schedule or a push. Example: `stellarflow sources sync src-01J…`"""
    with client() as http:
        started = check(http.post(f"/api/v2/sources/{source_id}/sync"))["data"]
    console.print(f"sync started: {started['workflowId']}")


@sources_app.command("remove")
def sources_remove(source_id: Annotated[str, typer.Argument(metavar="SOURCE_ID")]) -> None:
    """Stop syncing a source; the workflows it created stay. Example: `stellarflow sources remove src-01J…`"""
    with client() as http:
        check(http.delete(f"/api/v2/sources/{source_id}"))
    console.print(f"[green]✓[/] removed {source_id} (its workflows stay)")


# ---- keys --------------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="what the key is for")] = "cli",
    expires_in: Annotated[int | None, typer.Option(help="seconds until it expires; default never")] = None,
) -> None:
    """Create an API key; it is printed once, here. Example: `stellarflow keys create --name ci --expires-in 86400`"""
    body: dict[str, Any] = {"name": name}
    if expires_in is not None:
        body["expiresIn"] = expires_in
    with client() as http:
        created = check(http.post("/api/v2/auth/keys", json=body))["data"]
    console.print(f"[green]✓[/] API key [bold]{created['id']}[/] ({created['name']}) — shown once, store it now:")
    print(created["key"], flush=True)


@keys_app.command("list")
def keys_list(output: OutputOption = "table") -> None:
    """Your API keys (never the keys themselves). Example: `stellarflow keys list`"""
    with client() as http:
        items = check(http.get("/api/v2/auth/keys"))["data"]
    emit(items, output, [
        Column("id", lambda i: i["id"], identifier=True),
        Column("name", lambda i: i["name"]),
        Column("prefix", lambda i: i["prefix"] + "…"),
        Column("created", lambda i: (i["createdAt"] or "")[:19]),
        Column("last used", lambda i: (i["lastUsedAt"] or "never")[:19]),
        Column("expires", lambda i: (i["expiresAt"] or "never")[:19]),
    ])


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(metavar="KEY_ID")]) -> None:
    """Revoke one of your API keys: it stops working at once. Example: `stellarflow keys revoke key-01J…`"""
    with client() as http:
        check(http.delete(f"/api/v2/auth/keys/{key_id}"))
    console.print(f"[green]✓[/] revoked {key_id}")
