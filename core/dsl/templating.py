"""Templating for definitions, on jinja2's SandboxedEnvironment only.

Pure functions of (template, context): the workflow renders step parameters deterministically, before
handing them to activities. A shell string never receives a templated value as text: `render_shell` puts a
reference to an environment variable where each `{{ … }}` stood (`"${SF_1}"`, or `${SF_1}` inside double
quotes) and returns the values separately, for the activity to pass in the command's environment
(core/dsl/shell.py reads the quoting; contexts it cannot make safe are refused). argv lists and `env` values
are passed as they are, without a shell. (`render(..., shell=True)`, which shell-quoted values in place, is
kept only for runs that started before values were passed as variables: see workflows/pipeline.py.)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from core.dsl.shell import MARK, argv_problems, marker, splice

__all__ = [
    "ShellTemplateError",
    "TemplateError",
    "argv_template_problems",
    "render",
    "render_shell",
    "shell_template_problems",
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


def _shell_value(value: Any) -> str:
    """A value as the command sees it in its variable: None is empty, booleans are `true`/`false`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Where `render_shell` collects a render's values: a context key no template can name (it is not an identifier).
_VALUES = "stellarflow shell values"


@pass_context
def _collect(context: Context, value: Any) -> str:
    values: list[str] = context.get(_VALUES)
    values.append(_shell_value(value))
    return marker(len(values))


_plain = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
_shell = SandboxedEnvironment(
    undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False, finalize=_shell_finalize
)
_collecting = SandboxedEnvironment(
    undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False, finalize=_collect
)


class ShellTemplateError(TemplateError):
    """A shell command whose templates cannot be handed over safely; the message says where and shows the safe
    form."""


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


@lru_cache(maxsize=2048)
def _collecting_template(source: str):
    return _collecting.from_string(source)


@lru_cache(maxsize=2048)
def _expressions(source: str) -> tuple[str, tuple[tuple[str, int], ...], tuple[int, ...]]:
    """The command with a marker for each `{{ … }}` (block tags left out), each expression as written with its
    line, and the lines of `{% filter %}` blocks (whose output would bypass the markers)."""
    parts: list[str] = []
    found: list[tuple[str, int]] = []
    current: list[str] | None = None
    line = 1
    for lineno, kind, value in _plain.lex(source):
        if kind == "data" and current is None:
            parts.append(value)
        elif kind == "variable_begin":
            current, line = [value], lineno
        elif kind == "variable_end" and current is not None:
            current.append(value)
            found.append(("".join(current), line))
            parts.append(marker(len(found)))
            current = None
        elif current is not None:
            current.append(value)
    filters = tuple(node.lineno for node in _plain.parse(source).find_all(nodes.FilterBlock))
    return "".join(parts), tuple(found), filters


_FILTER_BLOCK = ("`{% filter %}` blocks cannot be used in a shell command: their output would reach the shell as "
                 "text; apply the filter to the value instead: `{{ value | upper }}`")


def shell_template_problems(source: str) -> list[tuple[int, str]]:
    """(template line, message) for every templated value of a shell command that cannot be handed over safely:
    what validation reports. Syntax errors are left to the syntax check (none reported here)."""
    if not is_template(source):
        return []
    try:
        text, expressions, filters = _expressions(source)
    except TemplateSyntaxError:
        return []
    problems = [(line, _FILTER_BLOCK) for line in filters]
    if MARK in source:
        problems.append((1, "a shell command cannot contain a NUL character"))
        return problems
    _, unsafe = splice(text)
    for item in unsafe:
        expression, line = expressions[item.index - 1]
        problems.append((line, item.problem(expression)))
    return sorted(problems)


def argv_template_problems(command: list[Any]) -> list[tuple[int, str]]:
    """(index, message) for every templated element of an argv list that the program runs as code
    (`["sh", "-c", "echo {{ x }}"]`)."""
    words = [item if isinstance(item, str) else str(item) for item in command]
    templated = [isinstance(item, str) and is_template(item) for item in command]
    return [
        (index, f"`{words[index]}` is {runner}, which would run the templated value as code: set the value in the "
                "step's `env:` and let the script read the variable, or pass it as an argument of its own "
                "(`[\"sh\", \"-c\", \"echo \\\"$1\\\"\", \"sh\", \"{{ value }}\"]`)")
        for index, runner in argv_problems(words, templated)
    ]


def render_shell(source: str, context: Mapping[str, Any], *, name: str = "SF_{}") -> tuple[str, dict[str, str]]:
    """Render a shell command so that no value becomes shell text: returns the command, in which every `{{ … }}`
    became a reference to the variable `name.format(n)`, and those variables' values (for the process's
    environment). Raises ShellTemplateError (a TemplateError) where a value cannot be handed over safely."""
    if not is_template(source):
        return source, {}
    if MARK in source:
        raise ShellTemplateError("a shell command cannot contain a NUL character")
    _, expressions, filters = _expressions(source)
    if filters:
        raise ShellTemplateError(_FILTER_BLOCK)
    values: list[str] = []
    rendered = _collecting_template(source).render({**context, _VALUES: values})
    text, unsafe = splice(rendered, name)
    if unsafe:
        item = unsafe[0]
        plain = "{%" not in source and len(expressions) == len(values)  # then the n-th value is the n-th `{{ }}`
        raise ShellTemplateError(item.problem(expressions[item.index - 1][0] if plain else None))
    return text, {name.format(index): value for index, value in enumerate(values, start=1)}


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
