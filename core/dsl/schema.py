"""The JSON Schema of workflow definitions, for editors (completion and red squiggles while typing).

It is generated from the same pydantic models and action registry the validator uses, so it cannot drift
from what the server accepts; `tests/test_dsl.py` fails when docs/workflow.schema.json is stale. Regenerate:

    python -m core.dsl.schema            # rewrites docs/workflow.schema.json
    python -m core.dsl.schema --check    # exit 1 if the file is out of date

The schema is slightly more permissive than the validator in one place only: it cannot see template
references or the dependency graph (unknown steps, cycles), which `stellarflow validate` reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.dsl.actions import ACTION_PARAMS
from core.dsl.durations import DURATION_PATTERN, duration_to_ms
from core.dsl.models import WorkflowDefinition

__all__ = ["DEFAULT_PATH", "SCHEMA_ID", "json_schema", "main", "render_schema", "write_schema"]

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://stellarflow.ai/schemas/workflow.schema.json"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "workflow.schema.json"

_META = ("title", "description", "default", "examples")
_TEMPLATE = {
    "type": "string",
    "pattern": r"\{\{|\{%",
    "description": "a template ({{ ... }}); its rendered value is checked against the parameter at run time",
}
# Hover text for editors, where the models carry none (model descriptions win).
_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("WorkflowDefinition", "name"): "human name of the workflow",
    ("WorkflowDefinition", "inputs"): "typed run inputs, referenced as {{ inputs.<name> }}",
    ("WorkflowDefinition", "env"): "environment variables for every step; values may be templates",
    ("WorkflowDefinition", "steps"): "the steps; they form a DAG through dependsOn",
    ("WorkflowDefinition", "environments"): "how `deploy` steps deploy to each named environment",
    ("Step", "id"): "unique step id; letters, digits, _ and -. Hyphenated ids: {{ steps['my-step'] }}",
    ("Step", "action"): "what the step does; see docs/dsl.md for each action's parameters",
    ("Step", "parameters"): "the action's parameters; string values may be templates",
    ("Step", "dependsOn"): "ids of steps that must finish before this one starts",
    ("Step", "retry"): "retry a failing step; without it a failing command is not retried",
    ("Step", "timeout"): "per-attempt time limit: milliseconds, or a string like 90s, 5m",
    ("RetrySpec", "maxAttempts"): "total attempts, including the first",
    ("Backoff", "initial"): "delay before the first retry",
    ("Backoff", "factor"): "each delay is the previous one times this",
    ("Backoff", "max"): "upper bound of a delay",
}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _is_duration(node: dict[str, Any]) -> bool:
    return any(isinstance(alt, dict) and alt.get("pattern") == DURATION_PATTERN for alt in node.get("oneOf", []))


def _durations_in_ms(schema: dict[str, Any]) -> None:
    """Model defaults are seconds internally; a schema default must be in the DSL's unit (milliseconds),
    or an editor would offer `1.0` for a one-second backoff, which reads as one millisecond."""
    for node in _walk(schema):
        default = node.get("default")
        if _is_duration(node) and isinstance(default, int | float) and not isinstance(default, bool):
            node["default"] = duration_to_ms(float(default))


def _accept_templates(params: dict[str, Any], literal: frozenset[str] = frozenset()) -> None:
    """A templated parameter is only checked after rendering, so the schema accepts a template string
    wherever a parameter wants something else (a number, a list, an enum...) — except the action's literal ones."""
    for name, prop in list(params.get("properties", {}).items()):
        shape = {k: v for k, v in prop.items() if k not in _META}
        if name in literal or not shape or shape == {"type": "string"}:
            continue  # already accepts any string
        outer = {k: prop[k] for k in _META if k in prop}
        params["properties"][name] = {**outer, "anyOf": [shape, {"$ref": "#/$defs/Template"}]}


def _describe(defs: dict[str, Any], root: dict[str, Any]) -> None:
    for (model, prop), text in _DESCRIPTIONS.items():
        target = root if model == "WorkflowDefinition" else defs.get(model, {})
        node = target.get("properties", {}).get(prop)
        if node is not None:
            node.setdefault("description", text)


def json_schema() -> dict[str, Any]:
    """The definition schema (draft 2020-12) with each action's `parameters` schema selected by `action`."""
    schema = WorkflowDefinition.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    defs["Template"] = dict(_TEMPLATE)
    branches = []
    for action, model in sorted(ACTION_PARAMS.items()):
        params = model.model_json_schema(by_alias=True)
        for name, sub in params.pop("$defs", {}).items():
            if defs.setdefault(name, sub) != sub:
                raise RuntimeError(f"schema $defs clash on {name!r} (from action {action!r})")
        _accept_templates(params, model.LITERAL)
        params.setdefault("description", f"parameters of the `{action}` action")
        if defs.setdefault(model.__name__, params) != params:
            raise RuntimeError(f"schema $defs clash on {model.__name__!r}")
        branches.append(
            {
                "if": {"properties": {"action": {"const": action}}, "required": ["action"]},
                "then": {"properties": {"parameters": {"$ref": f"#/$defs/{model.__name__}"}}},
            }
        )
    step = defs["Step"]
    step["properties"]["action"]["enum"] = sorted(ACTION_PARAMS)
    step["allOf"] = branches
    _describe(defs, schema)
    _durations_in_ms(schema)
    schema.update(
        {
            "$schema": SCHEMA_DRAFT,
            "$id": SCHEMA_ID,
            "title": "StellarFlow workflow definition",
            "description": "A StellarFlow workflow (YAML or JSON). Reference: docs/dsl.md",
        }
    )
    return schema


def render_schema() -> str:
    """The file's exact text: sorted keys, 2-space indent, trailing newline, so regenerating is a no-op."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: str | Path = DEFAULT_PATH) -> Path:
    """Write the schema file; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_schema(), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m core.dsl.schema [--check] [PATH]`."""
    parser = argparse.ArgumentParser(prog="python -m core.dsl.schema", description=__doc__.split("\n")[0])
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), help="default: docs/workflow.schema.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is missing or out of date")
    args = parser.parse_args(argv)
    path = Path(args.path)
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != render_schema():
            print(f"{path} is out of date; run: python -m core.dsl.schema", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    print(f"wrote {write_schema(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
