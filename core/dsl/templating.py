"""Templating for definitions, on jinja2's SandboxedEnvironment only.

Pure functions of (template, context): the workflow renders step parameters deterministically, before
handing them to activities. A value templated into a shell string is always shell-quoted (`finalize`), so
data never becomes shell syntax; argv lists and `env` values are passed as they are, without a shell.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "TemplateError",
    "render",
    "evaluate",
    "evaluate_condition",
    "is_template",
    "parse",
    "strip_braces",
]

_EXPR_ONLY = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


def _shell_finalize(value: Any) -> str:
    if value is None:
        return "''"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return shlex.quote(str(value))


_plain = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
_shell = SandboxedEnvironment(
    undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False, finalize=_shell_finalize
)


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


@lru_cache(maxsize=2048)
def _template(source: str, shell: bool):
    return (_shell if shell else _plain).from_string(source)


@lru_cache(maxsize=2048)
def _expression(source: str):
    return _plain.compile_expression(source, undefined_to_none=False)


def strip_braces(expression: str) -> str:
    """`{{ a == b }}` and `a == b` mean the same in `if:` and `forEach:`."""
    match = _EXPR_ONLY.match(expression)
    if match and "}}" not in match.group(1) and "{{" not in match.group(1):
        return match.group(1).strip()
    return expression.strip()


def render(value: Any, context: Mapping[str, Any], *, shell: bool = False) -> Any:
    """Render every string inside `value` (dicts and lists are walked). Raises TemplateError."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        return _template(value, shell).render(dict(context))
    if isinstance(value, list):
        return [render(item, context, shell=shell) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context, shell=shell) for key, item in value.items()}
    return value


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one expression to a native value (used by `if:` and `forEach:`)."""
    return _expression(strip_braces(expression))(**dict(context))


def evaluate_condition(expression: str, context: Mapping[str, Any]) -> bool:
    result = evaluate(expression, context)
    if isinstance(result, str):
        return result.strip().lower() not in {"", "false", "0", "no", "off", "none"}
    return bool(result)


def parse(source: str, *, expression: bool = False) -> nodes.Node:
    """Parse without rendering (validation uses the tree to find references). Raises TemplateSyntaxError."""
    if expression:
        return _plain.parse("{{ " + strip_braces(source) + " }}")
    return _plain.parse(source)
