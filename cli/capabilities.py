"""`stellarflow orchestrations|github|neural`: the long-running capabilities of dialect 2, from the terminal.

Each starts work that answers at once with an id (202) and reads it back; `--wait` polls until it has ended, as
the SDK's `wait` does. Like `cli.resources`, these are ordinary API calls with the CLI's credential (the same owner
and permission rules as any client); reads take `--output table|json|yaml`, where json and yaml print dialect 2's
`data` whole and the table shows its parts (phases, findings, outputs) one per row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from cli.http_client import check, client
from cli.output import Column, OutputOption, console, emit, err_console

orchestrations_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                                 help="Orchestrations: a task in phases of agent slots.")
github_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                         help="GitHub: repository analyses and pull-request enhancements.")
neural_app = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True,
                         help="Neural: train a small network, follow it, predict with it.")

WaitOption = Annotated[float | None, typer.Option("--wait", metavar="SECONDS",
                                                  help="wait up to this long for it to end, then show it")]


def register(app: typer.Typer) -> None:
    for name, group in (("orchestrations", orchestrations_app), ("github", github_app), ("neural", neural_app)):
        app.add_typer(group, name=name)


def _data(response: httpx.Response) -> dict[str, Any]:
    return check(response)["data"]


def _json(value: str | None, name: str, kind: type = dict) -> Any:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as err:
        raise typer.BadParameter(f"{name} must be JSON: {err}") from None
    if not isinstance(parsed, kind):
        raise typer.BadParameter(f"{name} must be a JSON {'object' if kind is dict else 'array'}")
    return parsed


def _pairs(items: list[str] | None, name: str) -> dict[str, str]:
    found = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{name} expects NAME=VALUE, got {item!r}")
        found[key] = value
    return found


def _until(http: httpx.Client, path: str, ended: Callable[[dict[str, Any]], bool], seconds: float) -> dict[str, Any]:
    """Poll `path` until `ended` or `seconds` have passed (then exit 4: it is still running)."""
    deadline = time.monotonic() + seconds
    while True:
        data = _data(http.get(path))
        if ended(data):
            return data
        if time.monotonic() >= deadline:
            err_console.print(f"[yellow]…[/] still {data.get('status')} after {seconds:g} s: {path}")
            raise typer.Exit(4)
        time.sleep(0.5)


def _show(data: dict[str, Any], output: str, rows: list[dict[str, Any]], columns: list[Column], title: str) -> None:
    if output == "table":
        emit(rows, output, columns, title=title)
    else:
        emit(data, output, columns)


# ---- orchestrations -----------------------------------------------------------------------------------------------

ORCHESTRATION_END = ("completed", "failed", "cancelled")
PHASE_COLUMNS = [Column("phase", lambda p: p.get("phaseId"), identifier=True), Column("name", lambda p: p["name"]),
                 Column("status", lambda p: p.get("status"), status=True),
                 Column("progress", lambda p: "" if p.get("progress") is None else f"{p['progress']:.0%}"),
                 Column("agents", lambda p: ", ".join(f"{a['agentType']}{'*' if a.get('spawned') else ''}"
                                                      for a in p.get("assignedAgents") or [])),
                 Column("error", lambda p: p.get("error") or "")]


def _phases(specs: list[str] | None, commands: dict[str, str], durations: dict[str, str]) -> list[dict[str, Any]]:
    phases = []
    for spec in specs or []:
        name, sep, types = spec.partition(":")
        agents = [kind.strip() for kind in types.split(",") if kind.strip()]
        if not sep or not name or not agents:
            raise typer.BadParameter(f"--phase expects NAME:TYPE[,TYPE…], got {spec!r}")
        phase: dict[str, Any] = {"name": name, "agents": agents}
        if name in commands:
            phase["requirements"] = {"command": commands.pop(name)}
        if name in durations:
            try:
                phase["duration"] = float(durations.pop(name))
            except ValueError:
                raise typer.BadParameter(f"--duration {name}= expects seconds") from None
        phases.append(phase)
    if commands or durations:
        raise typer.BadParameter(f"no --phase named {', '.join(sorted({*commands, *durations}))}")
    return phases


def _orchestration_title(data: dict[str, Any]) -> str:
    progress = data.get("progress")
    shown = f", {progress:.0%}" if isinstance(progress, int | float) else ""
    return f"{data['orchestrationId']} ({data.get('status')}{shown})"


@orchestrations_app.command("start")
def orchestrations_start(
    task: Annotated[str, typer.Argument(metavar="TASK", help="what the orchestration is for")],
    phase: Annotated[list[str] | None, typer.Option("--phase", "-p", metavar="NAME:TYPE[,TYPE…]",
                                                    help="a phase and its agent slots, in order; repeat")] = None,
    command: Annotated[list[str] | None, typer.Option("--command", "-c", metavar="PHASE=COMMAND",
                                                      help="a phase's shell command (every slot's); repeat")] = None,
    duration: Annotated[list[str] | None, typer.Option("--duration", metavar="PHASE=SECONDS",
                                                       help="a phase's timeout; repeat")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", metavar="FILE", exists=True, dir_okay=False,
                                              help="the whole request body (JSON or YAML), as the API takes it")]
    = None,
    strategy: Annotated[str | None, typer.Option(metavar="STRATEGY", help="parallel, sequential, adaptive")] = None,
    swarm: Annotated[str | None, typer.Option(metavar="SWARM_ID", help="run the slots on this swarm's agents")]
    = None,
    agent_config: Annotated[str | None, typer.Option(metavar="JSON", help='config of the agents it spawns, e.g. '
                                                                          '\'{"executor": "shell"}\'')] = None,
    max_duration: Annotated[float | None, typer.Option(metavar="SECONDS")] = None,
    capability: Annotated[list[str] | None, typer.Option("--capability", metavar="CAPABILITY",
                                                         help="a required capability; repeat")] = None,
    wait: WaitOption = None,
    output: OutputOption = "table",
) -> None:
    """Plan and start an orchestration; `--wait` follows it to its end. Example:
    `stellarflow orchestrations start "ship it" -p build:coder -p check:tester -c build=make -c "check=make test"
    --agent-config '{"executor": "shell"}' --strategy sequential --wait 600`"""
    body: dict[str, Any] = {}
    if file is not None:
        import yaml

        body = yaml.safe_load(file.read_text())
        if not isinstance(body, dict):
            raise typer.BadParameter("--file must hold a JSON or YAML object")
    body["task"] = task
    phases = _phases(phase, _pairs(command, "--command"), _pairs(duration, "--duration"))
    if phases:
        body.setdefault("requirements", {})["phases"] = phases
    if not body.get("requirements", {}).get("phases"):
        raise typer.BadParameter("give the phases with --phase (or in --file)")
    constraints = body.setdefault("requirements", {}).setdefault("constraints", {})
    if max_duration is not None:
        constraints["maxDuration"] = max_duration
    if capability:
        constraints["requiredCapabilities"] = capability
    body |= {key: value for key, value in (("strategy", strategy), ("swarmId", swarm),
                                           ("agentConfig", _json(agent_config, "--agent-config")))
             if value is not None}
    with client() as http:
        data = _data(http.post("/api/v2/tasks/orchestrate", json=body))
        orchestration_id = data["orchestrationId"]
        console.print(f"[green]✓[/] orchestration [bold]{orchestration_id}[/] ({data.get('status')}, "
                      f"estimate: {data.get('estimatedCompletion') or 'none'})")
        if wait is not None:
            data = _until(http, f"/api/v2/orchestrations/{orchestration_id}",
                          lambda d: d["status"] in ORCHESTRATION_END, wait)
            _show(data, output, data["phases"], PHASE_COLUMNS, _orchestration_title(data))
            if data["status"] != "completed":
                raise typer.Exit(1)


@orchestrations_app.command("show")
def orchestrations_show(orchestration_id: Annotated[str, typer.Argument(metavar="ORCHESTRATION_ID")],
                        output: OutputOption = "table") -> None:
    """An orchestration's phases (agents, status, progress); json/yaml add its tasks and their output. Example:
    `stellarflow orchestrations show orch-01J… -o yaml`"""
    with client() as http:
        data = _data(http.get(f"/api/v2/orchestrations/{orchestration_id}"))
    _show(data, output, data["phases"], PHASE_COLUMNS, _orchestration_title(data))


@orchestrations_app.command("cancel")
def orchestrations_cancel(orchestration_id: Annotated[str, typer.Argument(metavar="ORCHESTRATION_ID")]) -> None:
    """Cancel an orchestration: its tasks stop, the phases left are skipped, its spawned agents are released.
    Example: `stellarflow orchestrations cancel orch-01J…`"""
    with client() as http:
        data = _data(http.post(f"/api/v2/orchestrations/{orchestration_id}/cancel"))
    console.print(f"[green]✓[/] {orchestration_id}: {data.get('status')}")


# ---- GitHub -------------------------------------------------------------------------------------------------------

JOB_END = ("completed", "failed")
FINDING_COLUMNS = [Column("phase", lambda f: f["phase"]),
                   Column("severity", lambda f: f.get("severity")),
                   Column("where", lambda f: f"{f['file']}:{f['line']}" if f.get("line") else f["file"]),
                   Column("rule", lambda f: f.get("rule")), Column("tool", lambda f: f.get("tool")),
                   Column("message", lambda f: (f.get("message") or "")[:80])]
PART_COLUMNS = [Column("part", lambda p: p["part"]), Column("status", lambda p: p.get("status"), status=True),
                Column("detail", lambda p: p.get("message") or ", ".join(
                    f"{k}={v}" for k, v in p.items() if k in ("issues", "comments", "reviewUrl", "branch")))]


def _findings(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"phase": phase["name"], **finding} for phase in data.get("phases") or []
            for finding in phase.get("findings") or []]


def _analysis_title(data: dict[str, Any]) -> str:
    summary = data.get("summary") or {}
    return (f"{data['analysisId']} {data.get('repository')}@{(data.get('commit') or '')[:12]} "
            f"({data.get('status')}, {summary.get('total', 0)} findings)")


def _parts(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"part": name, **part} for name, part in (data.get("enhancements") or {}).items()]


@github_app.command("analyze")
def github_analyze(
    repository: Annotated[str, typer.Argument(metavar="OWNER/NAME")],
    analysis_type: Annotated[list[str] | None, typer.Option("--type", "-t", metavar="TYPE",
                                                            help="code-quality, security, performance (default: "
                                                                 "all); repeat")] = None,
    branch: Annotated[str | None, typer.Option(metavar="BRANCH", help="default: the repository's")] = None,
    depth: Annotated[str | None, typer.Option(metavar="DEPTH", help="shallow (default) or full")] = None,
    wait: WaitOption = None,
    output: OutputOption = "table",
) -> None:
    """Analyse a repository on the server's GitHub; `--wait` shows the findings. Example:
    `stellarflow github analyze octo-org/api -t security --wait 300`"""
    body: dict[str, Any] = {"repository": repository, **({"analysisType": analysis_type} if analysis_type else {}),
                            **({"branch": branch} if branch else {}), **({"depth": depth} if depth else {})}
    with client() as http:
        data = _data(http.post("/api/v2/github/repos/analyze", json=body))
        analysis_id = data["analysisId"]
        console.print(f"[green]✓[/] analysis [bold]{analysis_id}[/] of {data.get('repository')} "
                      f"({', '.join(p['name'] for p in data.get('phases') or [])})")
        if wait is not None:
            data = _until(http, f"/api/v2/github/analysis/{analysis_id}", lambda d: d["status"] in JOB_END, wait)
            _show(data, output, _findings(data), FINDING_COLUMNS, _analysis_title(data))
            if data["status"] != "completed":
                err_console.print(f"[red]✗[/] {data.get('error')}", markup=False)
                raise typer.Exit(1)


@github_app.command("analysis")
def github_analysis(analysis_id: Annotated[str, typer.Argument(metavar="ANALYSIS_ID")],
                    output: OutputOption = "table") -> None:
    """An analysis's findings, one per row (json/yaml: its phases, tools and summary too). Example:
    `stellarflow github analysis gh-analysis-01J…`"""
    with client() as http:
        data = _data(http.get(f"/api/v2/github/analysis/{analysis_id}"))
    _show(data, output, _findings(data), FINDING_COLUMNS, _analysis_title(data))


@github_app.command("enhance")
def github_enhance(
    repository: Annotated[str, typer.Argument(metavar="OWNER/NAME")],
    pr_number: Annotated[int, typer.Argument(metavar="PR_NUMBER", min=1)],
    enhancement: Annotated[list[str] | None, typer.Option(
        "--enhancement", "-e", metavar="NAME", help="securityReview (default), improveDescription, addTests, "
                                                    "updateDocumentation, performanceOptimization; repeat")] = None,
    auto_commit: Annotated[bool, typer.Option("--auto-commit", help="push the agents' changes to the PR")] = False,
    wait: WaitOption = None,
    output: OutputOption = "table",
) -> None:
    """Enhance a pull request (a security review with inline comments; with an agent executor, description, tests,
    docs on `pr-N-enhanced`). Example: `stellarflow github enhance octo-org/api 42 -e securityReview --wait 120`"""
    body: dict[str, Any] = {"repository": repository, "autoCommit": auto_commit,
                            "enhancements": {name: True for name in enhancement or ["securityReview"]}}
    with client() as http:
        data = _data(http.post(f"/api/v2/github/pr/{pr_number}/enhance", json=body))
        enhance_id = data["enhancementId"]
        console.print(f"[green]✓[/] enhancement [bold]{enhance_id}[/] of {repository}#{pr_number}")
        if wait is not None:
            data = _until(http, f"/api/v2/github/enhancements/{enhance_id}", lambda d: d["status"] in JOB_END, wait)
            _show(data, output, _parts(data), PART_COLUMNS, f"{enhance_id} ({data.get('status')})")
            if data["status"] != "completed":
                err_console.print(f"[red]✗[/] {data.get('error')}", markup=False)
                raise typer.Exit(1)


# ---- neural -------------------------------------------------------------------------------------------------------

TRAINING_END = ("completed", "failed", "cancelled")
TRAINING_COLUMNS = [Column("training", lambda t: t["trainingId"], identifier=True),
                    Column("status", lambda t: t.get("status"), status=True),
                    Column("epoch", lambda t: f"{t.get('currentEpoch')}/{t.get('totalEpochs')}"),
                    Column("loss", lambda t: "" if t.get("loss") is None else f"{t['loss']:.4g}"),
                    Column("held out", lambda t: ", ".join(f"{k} {v:.3f}" for k, v in
                                                           (t.get("validation") or {}).items())),
                    Column("model", lambda t: (t.get("model") or {}).get("modelId"), identifier=True),
                    Column("v", lambda t: (t.get("model") or {}).get("version") or "")]
PREDICTION_COLUMNS = [Column("output", lambda p: p["output"]), Column("value", lambda p: p["value"]),
                      Column("confidence", lambda p: p.get("confidence") or "")]


def _samples(path: Path) -> list[Any]:
    """A JSON array of `{input, output}`, or JSON Lines, one sample a line."""
    text = path.read_text()
    try:
        parsed = json.loads(text)
    except ValueError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as err:
            raise typer.BadParameter(f"--samples: neither a JSON array nor JSON Lines: {err}") from None
    if not isinstance(parsed, list):
        raise typer.BadParameter("--samples must hold a JSON array (or JSON Lines)")
    return parsed


@neural_app.command("train")
def neural_train(
    pattern_type: Annotated[str, typer.Argument(metavar="PATTERN_TYPE", help="e.g. coordination")],
    samples: Annotated[Path | None, typer.Option("--samples", "-s", metavar="FILE", exists=True, dir_okay=False,
                                                 help='JSON array or JSON Lines of {"input": …, "output": …}')]
    = None,
    history: Annotated[bool, typer.Option("--history", help="learn from this server's finished tasks")] = False,
    epochs: Annotated[int | None, typer.Option(metavar="INTEGER", min=1)] = None,
    learning_rate: Annotated[float | None, typer.Option(metavar="NUMBER")] = None,
    batch_size: Annotated[int | None, typer.Option(metavar="INTEGER", min=1)] = None,
    hidden: Annotated[list[int] | None, typer.Option("--hidden", metavar="SIZE",
                                                     help="a hidden layer's size; repeat (default 32, 16)")] = None,
    validation_split: Annotated[float | None, typer.Option(metavar="NUMBER", help="held out (default 0.2)")] = None,
    model: Annotated[str | None, typer.Option("--model", metavar="MODEL_ID",
                                              help="train a new version of this model")] = None,
    wait: WaitOption = None,
    output: OutputOption = "table",
) -> None:
    """Train a network (202 at once); `--wait` follows it to the end. Example:
    `stellarflow neural train coordination -s samples.jsonl --epochs 50 --wait 300`"""
    if history == (samples is not None):
        raise typer.BadParameter("give either --samples FILE or --history")
    data_body: dict[str, Any] = {"samples": _samples(samples)} if samples is not None else {"source": "history"}
    if validation_split is not None:
        data_body["validationSplit"] = validation_split
    configuration = {key: value for key, value in (("epochs", epochs), ("learningRate", learning_rate),
                                                   ("batchSize", batch_size), ("hiddenLayers", hidden))
                     if value is not None}
    body: dict[str, Any] = {"patternType": pattern_type, "trainingData": data_body, "configuration": configuration,
                            **({"modelId": model} if model else {})}
    with client() as http:
        data = _data(http.post("/api/v2/neural/train", json=body))
        training_id = data["trainingId"]
        console.print(f"[green]✓[/] training [bold]{training_id}[/] of model {data['model']['modelId']}")
        if wait is not None:
            data = _until(http, f"/api/v2/neural/training/{training_id}", lambda d: d["status"] in TRAINING_END,
                          wait)
            emit(data, output, TRAINING_COLUMNS)
            if data["status"] != "completed":
                raise typer.Exit(1)


@neural_app.command("training")
def neural_training(training_id: Annotated[str, typer.Argument(metavar="TRAINING_ID")],
                    output: OutputOption = "table") -> None:
    """A training's progress, then its held-out figures and model version. Example:
    `stellarflow neural training train-01J… -o yaml`"""
    with client() as http:
        emit(_data(http.get(f"/api/v2/neural/training/{training_id}")), output, TRAINING_COLUMNS)


@neural_app.command("predict")
def neural_predict(
    model_id: Annotated[str, typer.Argument(metavar="MODEL_ID")],
    feature: Annotated[list[str] | None, typer.Argument(metavar="KEY=VALUE", help="a feature (JSON values: 0.7, "
                                                                                  "true, \"mesh\"; else text)")]
    = None,
    input_json: Annotated[str | None, typer.Option("--input", metavar="JSON", help="the features as one object")]
    = None,
    version: Annotated[int | None, typer.Option(metavar="INTEGER", min=1, help="default: the latest")] = None,
    output: OutputOption = "table",
) -> None:
    """Predict with a model: each output's value and the confidence. Example:
    `stellarflow neural predict model-01J… taskComplexity=0.7 agentCount=6 topology=mesh`"""
    values: dict[str, Any] = _json(input_json, "--input") or {}
    for key, raw in _pairs(feature, "KEY=VALUE").items():
        try:
            values[key] = json.loads(raw)
        except ValueError:
            values[key] = raw
    body: dict[str, Any] = {"modelId": model_id, "input": values, **({"version": version} if version else {})}
    with client() as http:
        data = _data(http.post("/api/v2/neural/predict", json=body))
    prediction = data["prediction"]
    rows = [{"output": name, "value": value,
             "confidence": max((data.get("probabilities") or {}).get(name, {}).values(), default=None)}
            for name, value in prediction.items() if name not in ("confidenceScore", "reasoning")]
    model = data.get("modelInfo") or {}
    _show(data, output, rows, PREDICTION_COLUMNS, f"{model.get('modelId')} v{model.get('version')} "
                                                  f"(confidence {prediction.get('confidenceScore')})")
