"""Prompts: "plan a swarm for an objective" and "write a workflow definition", each carrying the reference a model
needs to answer well — the agent types, topologies and strategies with `swarm_init`'s input schema; the DSL
reference (docs/dsl.md) with the definitions' JSON Schema as a fallback when the docs are not installed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.agents.models import Strategy, Topology
from core.agents.types import registry
from core.errors import NotFound, ValidationFailed
from core.settings import Settings
from mcp_server.inputs import SwarmInit

# The checkout (docs/ beside the packages), then the working directory (the container image copies docs/dsl.md).
_DSL_PLACES = (Path(__file__).resolve().parents[1] / "docs" / "dsl.md", Path.cwd() / "docs" / "dsl.md")


@dataclass(frozen=True)
class Argument:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class PromptSpec:
    name: str
    title: str
    description: str
    arguments: tuple[Argument, ...]


PROMPTS = {
    "plan_swarm": PromptSpec("plan_swarm", "Plan a swarm for an objective",
                             "Plan the agents, topology, strategy and tasks of a swarm for an objective, as "
                             "swarm_init arguments.",
                             (Argument("objective", "what the swarm should achieve", True),
                              Argument("max_agents", "the most agents it may use (default 8)"))),
    "write_workflow": PromptSpec("write_workflow", "Write a workflow definition",
                                 "Write a StellarFlow workflow definition (the DSL) for a goal, then check it with "
                                 "workflow_validate.",
                                 (Argument("goal", "what the workflow should do", True),
                                  Argument("format", "yaml (default) or json"))),
}


@cache
def dsl_reference() -> str:
    for place in _DSL_PLACES:
        if place.is_file():
            return place.read_text(encoding="utf-8")
    from core.dsl.schema import render_schema

    return "The JSON Schema of workflow definitions:\n\n```json\n" + render_schema() + "```\n"


def _required(arguments: dict[str, str], name: str) -> str:
    value = (arguments.get(name) or "").strip()
    if not value:
        raise ValidationFailed("Prompt argument missing", details=[
            {"field": name, "constraint": "required", "message": f"{name} is required"}])
    return value


def render(settings: Settings, name: str, arguments: dict[str, str] | None) -> tuple[str, str]:
    """(description, the user message's text) of the prompt `name` with `arguments`."""
    spec = PROMPTS.get(name)
    if spec is None:
        raise NotFound("prompt", name[:200])
    arguments = arguments or {}
    if name == "plan_swarm":
        objective = _required(arguments, "objective")
        max_agents = (arguments.get("max_agents") or "8").strip()
        types = "\n".join(f"- `{kind}`: {info.description or ', '.join(info.capabilities)} (executor "
                          f"{info.executor})" for kind, info in sorted(registry(settings.agent_types).items()))
        schema = json.dumps(SwarmInit.model_json_schema(by_alias=True), indent=1)
        text = (f"Plan a StellarFlow swarm for this objective:\n\n{objective}\n\n"
                f"Use at most {max_agents} agents. Choose a topology ({', '.join(t.value for t in Topology)}: "
                "hierarchical adds a coordinator that decomposes work; mesh and ring let peers share it; star and "
                "centralized route everything through one hub) and a strategy "
                f"({', '.join(s.value for s in Strategy)}: specialized matches task types to agents' "
                "capabilities, balanced spreads load, adaptive learns from measured durations). Pick agent types "
                f"from this list:\n{types}\n\nBreak the objective into concrete tasks. Explain the plan in a few "
                "lines, then give the exact arguments of the `swarm_init` tool as one JSON object valid against "
                f"this schema:\n```json\n{schema}\n```\nAfter calling swarm_init, poll the returned `resource` (or "
                "swarm_status) to follow progress.")
        return spec.description, text
    goal = _required(arguments, "goal")
    form = (arguments.get("format") or "yaml").strip().lower()
    text = (f"Write a StellarFlow workflow definition in {form.upper()} that does this:\n\n{goal}\n\n"
            "Follow the reference below exactly (keys, actions, templates, conditions, limits). Prefer small "
            "steps with clear ids and `needs` for ordering. Then call the `workflow_validate` tool with the "
            "definition and fix every error it reports before presenting the result.\n\n"
            f"--- StellarFlow DSL reference ---\n\n{dsl_reference()}")
    return spec.description, text
