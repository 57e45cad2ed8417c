"""The one place a task becomes a prompt, for the `llm` and `agent-cli` executors alike.

System part: who the agent is (its type), how it should think (its `cognitive_pattern`, e.g. "critical"),
and — for the `llm` executor only — how to hand back files (fenced blocks naming a path; a CLI writes
files itself). User part: the description, the requirements as JSON (without `files`, which are in the
workspace, and `env`), the context (memory entries), and the latest directives. The `llm` executor also
gets the seeded files' text, since an endpoint cannot see the workspace.
"""

from __future__ import annotations

import json
from typing import Any

from core.agents.contracts import ExecuteTaskInput

COGNITIVE_PATTERNS: dict[str, str] = {
    "convergent": "narrow the options down quickly to the single best solution and commit to it.",
    "divergent": "explore several different approaches and alternatives before you choose one.",
    "lateral": "look for unconventional angles; reframe the problem when the obvious path is blocked.",
    "systems": "consider how the parts interact: dependencies, feedback loops, side effects.",
    "critical": "question assumptions, look for flaws, edge cases and risks, and verify before you conclude.",
    "abstract": "reason about the underlying concepts and general patterns before the details.",
    "adaptive": "adjust your approach as you learn; switch strategies when one stops working.",
}

MAX_DIRECTIVES = 10
MAX_SECTION_CHARS = 32_000
PLUMBING_KEYS = frozenset({"files", "env"})

FILE_BLOCK_RULES = (
    "To create or replace a file in the workspace, answer with a fenced code block whose info string names "
    "its path relative to the workspace, e.g. ```python path=src/app.py (or ```src/app.py), containing the "
    "whole file. Blocks without a path are not written."
)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SECTION_CHARS else text[:MAX_SECTION_CHARS] + "\n…(cut)"


def pattern_line(pattern: str | None) -> str | None:
    if not pattern:
        return None
    how = COGNITIVE_PATTERNS.get(pattern.lower(), "apply it consistently to this task.")
    return f"Think in a {pattern} way: {how}"


def system_prompt(inp: ExecuteTaskInput, *, file_blocks: bool) -> str:
    kind = inp.agent_type or "general"
    lines = [f"You are a {kind} agent of a StellarFlow swarm, working on one task in its own workspace."]
    if pattern := pattern_line(inp.cognitive_pattern):
        lines.append(pattern)
    if file_blocks:
        lines.append(FILE_BLOCK_RULES)
    return "\n".join(lines)


def user_prompt(inp: ExecuteTaskInput, *, include_files: bool) -> str:
    parts = [f"Task: {inp.description.strip() or '(no description)'}"]
    if inp.type:
        parts.append(f"Task type: {inp.type}")
    requirements = {k: v for k, v in inp.requirements.items() if k not in PLUMBING_KEYS}
    if requirements:
        parts.append("Requirements (JSON):\n" + _clip(json.dumps(requirements, indent=2, default=str)))
    files: Any = inp.requirements.get("files")
    if isinstance(files, dict) and files:
        if include_files:
            shown = "\n\n".join(f"--- {path}\n{text}" for path, text in files.items() if isinstance(text, str))
            parts.append("Files in the workspace:\n" + _clip(shown))
        else:
            parts.append("Files in the workspace: " + ", ".join(sorted(map(str, files))))
    if inp.context:
        parts.append("Context (memory entries, JSON):\n" + _clip(json.dumps(inp.context, indent=2, default=str)))
    if inp.directives:
        latest = inp.directives[-MAX_DIRECTIVES:]
        parts.append("Directives (newest last):\n" + "\n".join(f"- {d}" for d in latest))
    return "\n\n".join(parts)


def chat_messages(inp: ExecuteTaskInput) -> list[dict[str, str]]:
    """The OpenAI-style messages of the `llm` executor."""
    return [
        {"role": "system", "content": system_prompt(inp, file_blocks=True)},
        {"role": "user", "content": user_prompt(inp, include_files=True)},
    ]


def cli_prompt(inp: ExecuteTaskInput) -> str:
    """The single prompt text of the `agent-cli` executor (a CLI has no separate system message)."""
    return system_prompt(inp, file_blocks=False) + "\n\n" + user_prompt(inp, include_files=False)
