"""The `agent-cli` executor: a coding-agent CLI run headless in the workspace, e.g. `claude -p {prompt}`.

The template (agent `config.command`, which only an admin may set, else the operator-defined agent type's
`command`, else STELLARFLOW_AGENT_CLI_COMMAND) is split into argv once, with
shlex, *before* anything is substituted; then each placeholder inside an argv item is replaced in a single
pass, so the prompt always lands inside one argv element, whatever quotes, `$(...)`, `;` or `{prompt}` it
contains, and the argv is exec'd without a shell. A list template is taken as argv as is.

Placeholders: `{prompt}` (the prompt text), `{prompt_file}` (a file holding it, for prompts longer than an
argument may be — about 128 KiB on Linux), `{workspace}`. A template with neither prompt placeholder gets the
prompt appended as the last argument.

Environment: command.py's allowlist plus the worker variables named in STELLARFLOW_AGENT_CLI_ENV (the CLI's
own key, e.g. ANTHROPIC_API_KEY) and in the agent's `config.pass_env`, which must be listed in
STELLARFLOW_EXECUTOR_SECRET_ENV. Their values are blanked out of the output.

Tokens: when the CLI's stdout is a JSON object (or ends with one, as with `--output-format json`) carrying
`usage` with `input_tokens`/`output_tokens` (or the OpenAI names), they are reported; otherwise None.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from activities.executors.base import ExecOutcome, TaskContext, process_outcome, run_measured, setting
from activities.executors.models import not_configured
from activities.executors.prompt import cli_prompt
from core.agents.contracts import ExecuteTaskInput
from core.agents.models import TokenUsage
from core.settings import Settings

_PLACEHOLDER = re.compile(r"\{(prompt|prompt_file|workspace)\}")


@dataclass
class CLIPlan:
    template: list[str]
    env: dict[str, str] = field(default_factory=dict)


def plan(inp: ExecuteTaskInput, settings: Settings) -> CLIPlan:
    kind = settings.agent_types.get(inp.agent_type or "")
    template: Any = inp.config.get("command") or (kind.command if kind else None) or settings.agent_cli_command
    if not template:
        raise not_configured(
            "the agent-cli executor has no command template: set STELLARFLOW_AGENT_CLI_COMMAND (e.g. "
            "'claude -p {prompt}') or the agent's config.command"
        )
    if isinstance(template, str):
        try:
            argv = shlex.split(template)
        except ValueError as err:
            raise not_configured(f"the agent-cli command template cannot be split into arguments: {err}") from None
    elif isinstance(template, list) and all(isinstance(item, str) for item in template):
        argv = list(template)
    else:
        raise not_configured("the agent-cli command template must be a string or a list of strings")
    if not argv:
        raise not_configured("the agent-cli command template is empty")
    names = list(settings.agent_cli_env)
    requested = setting(inp.config, "pass_env") or []
    if not isinstance(requested, list):
        raise not_configured("config.pass_env must be a list of variable names")
    for name in requested:
        if name not in settings.executor_secret_env:
            raise not_configured(f"config.pass_env names {name!r}, which STELLARFLOW_EXECUTOR_SECRET_ENV does not list")
        names.append(name)
    env = {name: os.environ[name] for name in names if name in os.environ}
    return CLIPlan(template=argv, env=env)


def build_argv(template: list[str], values: dict[str, str]) -> list[str]:
    """Substitute placeholders inside each argv item, once: substituted text is never scanned again."""
    uses_prompt = any("{prompt}" in item or "{prompt_file}" in item for item in template)
    argv = [_PLACEHOLDER.sub(lambda m: values[m.group(1)], item) for item in template]
    if not uses_prompt:
        argv.append(values["prompt"])
    return argv


def _usage_of(stdout: str) -> TokenUsage | None:
    text = stdout.strip()
    candidates = [text, text.splitlines()[-1] if text else ""]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        usage = data.get("usage") if isinstance(data, dict) else None
        if isinstance(usage, dict):
            prompt = int(usage.get("input_tokens") or usage.get("prompt_tokens") or 0)
            completion = int(usage.get("output_tokens") or usage.get("completion_tokens") or 0)
            return TokenUsage(prompt=prompt, completion=completion, total=prompt + completion)
    return None


async def run(ctx: TaskContext, cli: CLIPlan) -> ExecOutcome:
    prompt = cli_prompt(ctx.inp)
    prompt_file = ctx.reports / "prompt.txt"
    prompt_file.write_text(prompt, encoding="utf-8")
    values = {"prompt": prompt, "prompt_file": str(prompt_file), "workspace": str(ctx.workspace)}
    argv = build_argv(cli.template, values)
    ctx.secrets.extend(cli.env.values())
    ctx.progress.set(0.0, f"running {os.path.basename(argv[0])}")
    outcome, usage = await run_measured(ctx, argv, extra_env=cli.env)
    result = process_outcome(outcome, usage, what=os.path.basename(argv[0]), limit=ctx.settings.output_tail_bytes)
    result.tokens = _usage_of(outcome.stdout)
    return result
