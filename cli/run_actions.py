"""`stellarflow runs logs|approve|reject`: a run's output, and the decisions an approval gate waits for.

Beside `cli.client` (which starts, lists and shows runs) because these act on one run's steps; both go through the
API like any client.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from cli.http_client import check, client
from cli.output import STATUS_STYLE, console

ENDED = ("succeeded", "failed", "cancelled")


def register(runs_app: typer.Typer) -> None:
    runs_app.command("logs")(runs_logs)
    runs_app.command("approve")(runs_approve)
    runs_app.command("reject")(runs_reject)


def _print_step(step: dict[str, Any]) -> None:
    style = STATUS_STYLE.get(step["status"], "")
    exit_code = f", exit code {step['exitCode']}" if step.get("exitCode") is not None else ""
    console.print(f"[bold]── {step['stepId']}[/] [{style}]{step['status']}[/]{exit_code}", highlight=False)
    for stream in ("stdout", "stderr"):
        text = (step.get(stream) or "").rstrip("\n")
        if text:
            prefix = "" if stream == "stdout" else "[stderr] "
            for line in text.splitlines():
                console.print(f"{prefix}{line}", markup=False, highlight=False)
    if step.get("truncated"):
        console.print("(output truncated: the run keeps the tail of each stream)", style="dim")
    if step.get("error"):
        console.print(f"error: {step['error']}", style="red", markup=False, highlight=False)


def runs_logs(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="e.g. run-01J9Z…")],
    step: Annotated[str | None, typer.Option("--step", "-s", help="only this step")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing steps as they finish, until the "
                                                                 "run ends")] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """A run's output: each step's stdout and stderr tails, exit code and error. Example:
    `stellarflow runs logs run-01J9Z… --step build -f`"""
    printed: set[tuple[str, str]] = set()
    with client() as http:
        while True:
            body = check(http.get(f"/api/v2/runs/{run_id}/logs"))
            logs = body["data"]
            if (body.get("meta") or {}).get("redacted"):
                console.print("the run's output is visible to its starter, its workflow's owner and admins only",
                              style="yellow")
            steps = [s for s in logs["steps"] if step is None or s["stepId"] == step]
            if output == "json" and not follow:
                print(json.dumps(steps if step else logs, indent=2))
                return
            for entry in steps:
                key = (entry["stepId"], entry["status"])
                if key in printed or (follow and entry["status"] in ("pending", "running")):
                    continue
                printed.add(key)
                if output == "json":
                    print(json.dumps(entry), flush=True)
                else:
                    _print_step(entry)
            if not follow or logs["status"] in ENDED:
                return
            time.sleep(0.5)


def _decide(run_id: str, step: str, verdict: str, comment: str | None) -> None:
    with client() as http:
        decided = check(http.post(f"/api/v2/runs/{run_id}/steps/{step}/{verdict}",
                                  json={"comment": comment} if comment else None))["data"]
    state = (decided.get("approval") or {}).get("status") or decided.get("status")
    console.print(f"[green]✓[/] {step} of {run_id}: {verdict}d ({state})")


def runs_approve(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID")],
    step: Annotated[str, typer.Argument(metavar="STEP", help="the approval step's id")],
    comment: Annotated[str | None, typer.Option("--comment", "-m", help="recorded with the decision")] = None,
) -> None:
    """Approve a step waiting for approval, so the run goes on. Example:
    `stellarflow runs approve run-01J9Z… approve -m "looks good"`"""
    _decide(run_id, step, "approve", comment)


def runs_reject(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID")],
    step: Annotated[str, typer.Argument(metavar="STEP", help="the approval step's id")],
    comment: Annotated[str | None, typer.Option("--comment", "-m", help="recorded with the decision")] = None,
) -> None:
    """Reject a step waiting for approval: it fails, and the steps after it are skipped. Example:
    `stellarflow runs reject run-01J9Z… approve -m "not today"`"""
    _decide(run_id, step, "reject", comment)
