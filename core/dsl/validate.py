"""Validation of workflow definitions, with errors a person can act on.

A definition is checked in three layers and every problem of every layer is reported at once, so a user
fixes a file in one pass instead of one error per attempt:

0. size: the text (or, for a mapping, its JSON size with every YAML alias expanded), the number of steps and
   how deeply values nest are capped (`DefinitionLimits`, from STELLARFLOW_MAX_DEFINITION_BYTES, _STEPS and
   _DEPTH); a definition over a cap is refused before anything else is checked;
1. YAML syntax (with the line of the problem);
2. the shape, by the pydantic models (`extra="forbid"`, so a typo is an error, not a silently ignored key);
3. the meaning: duplicate ids, unknown or cyclic dependencies, unknown actions, each action's parameters,
   template syntax, and template references to steps, inputs and variables that will not exist at run time.

Each problem is an `Issue` with a JSON path (`steps[1].dependsOn[0]`), a machine word (`constraint`), the
step id and, when the definition came from YAML text, the 1-based line of the offending value. The API maps
issues to `VALIDATION_ERROR` details (`Issue.as_detail`), the CLI prints `DefinitionError` as
`file:line: step 'id': message` lines.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.defaults import DEFAULT_NAMESPACE
from pydantic import BaseModel, ValidationError

from core.dsl import templating
from core.dsl.actions import ACTION_PARAMS
from core.dsl.models import InputSpec, SandboxSpec, WorkflowDefinition, coerce_input
from core.settings import get_settings

__all__ = [
    "DefinitionError",
    "DefinitionLimits",
    "Issue",
    "format_path",
    "load_file",
    "parse_definition",
    "resolve_inputs",
    "validate_files",
]

PathT = tuple[str | int, ...]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_YAML_SUFFIXES = (".yaml", ".yml")
# Names every template may use; jinja2's own globals (range, dict, ...) are added per template.
_BASE_NAMES = frozenset({"inputs", "steps", "env", "run", "trigger", "github", "webhook", "artifacts"})
# Per-instance names of a fan-out step: a forEach instance sees `item`, a matrix instance `matrix`.
_FAN_OUT_NAMES = frozenset({"item", "index", "matrix"})
_FOR_EACH_NAMES = frozenset({"item", "index"})
_MATRIX_NAMES = frozenset({"matrix", "index"})
# The workflow env is rendered once, before any step, from inputs and run only.
_WORKFLOW_ENV_NAMES = frozenset({"inputs", "run", "trigger", "github", "webhook"})


# ---- the error types --------------------------------------------------------------------------------


@dataclass
class Issue:
    """One problem in a definition. `field` is a JSON path into the definition ("" = the whole document)."""

    field: str
    message: str
    constraint: str
    step: str | None = None
    line: int | None = None
    value: Any = None

    def as_detail(self) -> dict[str, Any]:
        """The `VALIDATION_ERROR` detail shape of the API spec, plus `line`/`step` when they are known."""
        detail: dict[str, Any] = {"field": self.field, "constraint": self.constraint, "message": self.message}
        if self.value is not None:
            detail["value"] = self.value
        if self.line is not None:
            detail["line"] = self.line
        if self.step is not None:
            detail["step"] = self.step
        return detail

    def __str__(self) -> str:
        return self.message


class DefinitionError(ValueError):
    """A definition that cannot be run. Carries every issue found, not just the first."""

    def __init__(self, issues: list[Issue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        super().__init__(str(self))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the issues (the default would rebuild from the message string alone)."""
        return (type(self), (self.issues, self.source))

    def details(self) -> list[dict[str, Any]]:
        """All issues as API error details."""
        return [issue.as_detail() for issue in self.issues]

    def __str__(self) -> str:
        lines = []
        for issue in self.issues:
            location = ""
            if self.source and issue.line is not None:
                location = f"{self.source}:{issue.line}: "
            elif self.source:
                location = f"{self.source}: "
            elif issue.line is not None:
                location = f"line {issue.line}: "
            message = issue.message
            if issue.step is not None and not message.startswith(f"step '{issue.step}'"):
                message = f"step '{issue.step}': {message}"
            lines.append(location + message)
        return "\n".join(lines) if lines else "invalid workflow definition"


def format_path(path: Iterable[str | int]) -> str:
    """`("steps", 1, "dependsOn", 0)` -> `steps[1].dependsOn[0]`; odd keys are quoted: `env["A.B"]`."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


# ---- size limits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DefinitionLimits:
    """How large a definition may be: its size in bytes (YAML text, or the JSON of a mapping with aliases
    expanded), its number of steps and how deeply its values nest (the document itself is depth 1)."""

    max_bytes: int = 256 * 1024
    max_steps: int = 500
    max_depth: int = 32

    @classmethod
    def from_settings(cls) -> DefinitionLimits:
        from core.settings import get_settings

        settings = get_settings()
        return cls(settings.max_definition_bytes, settings.max_definition_steps, settings.max_definition_depth)


def _too_large(size: str, limits: DefinitionLimits) -> Issue:
    return Issue("", f"the definition is {size}; at most {limits.max_bytes} bytes are accepted "
                 "(STELLARFLOW_MAX_DEFINITION_BYTES)", "max_size")


def _too_deep(limits: DefinitionLimits, line: int | None = None) -> Issue:
    return Issue("", f"the definition nests more than {limits.max_depth} levels deep "
                 "(STELLARFLOW_MAX_DEFINITION_DEPTH)", "max_depth", line=line)


def _measure(data: Any, limits: DefinitionLimits) -> Issue | None:
    """Walk the data without recursion, counting about what its JSON would weigh, and stop at the first cap
    passed: a YAML alias is counted every time it is used, so a "billion laughs" document stops here after at most
    `max_bytes` steps of work, instead of blowing up whatever serialises it later (the content hash)."""
    size = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limits.max_depth:
            return _too_deep(limits)
        if isinstance(value, dict):
            size += 2
            for key, item in value.items():
                size += len(str(key)) + 4
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            size += 2
            for item in value:
                size += 1
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            size += len(value) + 2
        else:
            size += 8
        if size > limits.max_bytes:
            return _too_large(f"larger than {limits.max_bytes} bytes once its values are expanded", limits)
    steps = data.get("steps") if isinstance(data, dict) else None
    if isinstance(steps, list) and len(steps) > limits.max_steps:
        return Issue("steps", f"the definition has {len(steps)} steps; at most {limits.max_steps} are accepted "
                     "(STELLARFLOW_MAX_DEFINITION_STEPS)", "max_steps")
    return None


# ---- YAML with line numbers ----------------------------------------------------------------------------


@dataclass
class _LineMap:
    """1-based source lines by JSON path. Mapping entries map to their key's line (so `parameters:` itself,
    not its first child, is blamed for a missing parameter); sequence items to the item's first line."""

    lines: dict[PathT, int] = field(default_factory=dict)
    # first content line of literal block scalars (`|`), where a template's own line numbers apply
    blocks: dict[PathT, int] = field(default_factory=dict)

    def line(self, path: PathT) -> int | None:
        """The line of `path`, or of its nearest parent that has one (a missing key has no line)."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def template_line(self, path: PathT, lineno: int | None) -> int | None:
        """The YAML line of line `lineno` (1-based) of the template stored at `path`."""
        if lineno is not None and path in self.blocks:
            return self.blocks[path] + lineno - 1
        return self.line(path)


def _map_nodes(node: yaml.Node, path: PathT, lines: _LineMap, issues: list[Issue], seen: set[int]) -> None:
    if isinstance(node, yaml.ScalarNode):
        if node.style == "|":
            lines.blocks[path] = node.start_mark.line + 2
        return
    if id(node) in seen:  # an alias of an anchored node: mapped already (and may be recursive)
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.lines.setdefault((*path, index), item.start_mark.line + 1)
            _map_nodes(item, (*path, index), lines, issues, seen)
    elif isinstance(node, yaml.MappingNode):
        keys: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key != "<<" and key in keys:
                child = (*path, key)
                issues.append(
                    Issue(
                        field=format_path(child),
                        message=f"{format_path(child)}: key '{key}' is given twice (first on line "
                        f"{keys[key]}); YAML would silently keep only the last one",
                        constraint="duplicate_key",
                        line=line,
                    )
                )
            keys.setdefault(key, line)
            # keys are mapped by their text; an int/bool key (`1:`) still finds its line via the text
            lines.lines[(*path, key)] = line
            _map_nodes(value_node, (*path, key), lines, issues, seen)


def _load_yaml(text: str, source: str | None,
               limits: DefinitionLimits | None = None) -> tuple[Any, _LineMap, list[Issue]]:
    """Compose the node tree once: it gives both the data and each node's line."""
    lines = _LineMap()
    issues: list[Issue] = []
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, lines, issues
        lines.lines[()] = root.start_mark.line + 1
        _map_nodes(root, (), lines, issues, set())
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        line = mark.line + 1 if mark is not None else None
        raise DefinitionError([Issue("", message, "yaml_syntax", line=line)], source) from exc
    except RecursionError:  # the parser recurses per nesting level; far past any cap, it runs out of stack
        raise DefinitionError([_too_deep(limits or DefinitionLimits())], source) from None
    finally:
        loader.dispose()
    return data, lines, issues


# ---- helpers over raw data -----------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """A value safe to put in a JSON error body, or None (containers are left out: the path says enough)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, _dt.date | _dt.datetime | _dt.time):
        return value.isoformat()
    return None


def _suggest(word: Any, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for a close match, else ""."""
    if not isinstance(word, str):
        return ""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _strip_type(tp: Any) -> Any:
    """Reduce `Annotated[X, ...]` and `X | None` to the part that has fields or items."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = next(
                (a for a in args if isinstance(a, type) and issubclass(a, BaseModel)),
                next((a for a in args if typing.get_origin(a) in (dict, list)), args[0] if args else None),
            )
        else:
            return tp


def _keys_of_model(tp: Any) -> list[str]:
    tp = _strip_type(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def _type_at(root: type[BaseModel], path: PathT) -> Any:
    """The declared type at `path` in the model tree, for "did you mean" hints; None if unknown."""
    tp: Any = root
    for part in path:
        tp = _strip_type(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = next(
                (info.annotation for name, info in tp.model_fields.items() if (info.alias or name) == part),
                None,
            )
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
        if tp is None:
            return None
    return tp


def _clean_loc(loc: tuple[Any, ...], data: Any, error_type: str) -> tuple[PathT, bool]:
    """Turn a pydantic `loc` into a path of real keys: union member tags (`'str'`, `'list[str]'`) and
    `[key]` markers are dropped. Returns the path and whether anything was dropped."""
    path: list[str | int] = []
    current = data
    dropped = False
    for position, part in enumerate(loc):
        if isinstance(current, dict) and not isinstance(part, list | dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif position == len(loc) - 1 and error_type == "missing":
            path.append(part)
        else:
            dropped = True
    return tuple(path), dropped


_CONSTRAINTS = {
    "missing": "required",
    "extra_forbidden": "extra",
    "literal_error": "enum",
    "enum": "enum",
    "string_pattern_mismatch": "pattern",
    "string_too_short": "min_length",
    "too_short": "min_length",
    "string_too_long": "max_length",
    "too_long": "max_length",
    "greater_than": "min",
    "greater_than_equal": "min",
    "less_than": "max",
    "less_than_equal": "max",
}


def _constraint_of(error_type: str, message: str) -> str:
    if error_type in _CONSTRAINTS:
        return _CONSTRAINTS[error_type]
    if error_type.endswith(("_type", "_parsing")) or error_type in {"int_from_float", "model_attributes_type"}:
        return "type"
    if "duration" in message:
        return "duration"
    if "either forEach or matrix" in message:
        return "exclusive"
    if "matrix axes" in message:
        return "min_length"
    return "value"


def _plain_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


# ---- the checker ---------------------------------------------------------------------------------------


@dataclass
class _Scope:
    """What a template at one place may refer to."""

    where: str  # for messages: "parameters.command", "if", "env.X"
    step: str | None
    names: frozenset[str]
    upstream: frozenset[str] | None  # steps whose results exist when this renders; None = no steps at all
    matrix_axes: frozenset[str] | None = None
    expression: bool = False


class _Checker:
    """Collects issues for one raw definition (a dict, possibly malformed: every accessor is defensive)."""

    def __init__(self, data: dict[str, Any], lines: _LineMap) -> None:
        self.data = data
        self.lines = lines
        self.issues: list[Issue] = []
        raw_steps = data.get("steps")
        self.steps: list[Any] = raw_steps if isinstance(raw_steps, list) else []
        raw_inputs = data.get("inputs")
        self.input_names: list[str] = (
            [k for k in raw_inputs if isinstance(k, str)] if isinstance(raw_inputs, dict) else []
        )
        self.index_of: dict[str, int] = {}  # step id -> index of its first definition
        for index, step in enumerate(self.steps):
            step_id = self._id(step)
            if step_id is not None:
                self.index_of.setdefault(step_id, index)
        self.deps: dict[str, list[str]] = {
            step_id: [d for d in self._depends_on(self.steps[index]) if d in self.index_of]
            for step_id, index in self.index_of.items()
        }

    # -- small accessors

    @staticmethod
    def _id(step: Any) -> str | None:
        if isinstance(step, dict) and isinstance(step.get("id"), str):
            return step["id"]
        return None

    @staticmethod
    def _depends_on(step: Any) -> list[str]:
        raw = step.get("dependsOn") if isinstance(step, dict) else None
        return [d for d in raw if isinstance(d, str)] if isinstance(raw, list) else []

    def _step_of(self, path: PathT) -> str | None:
        if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int) and path[1] < len(self.steps):
            return self._id(self.steps[path[1]])
        return None

    def add(
        self,
        path: PathT,
        text: str,
        constraint: str,
        *,
        value: Any = None,
        line: int | None = None,
    ) -> None:
        """Record an issue; `text` is phrased relative to the step when the path is inside one."""
        step = self._step_of(path)
        message = f"step '{step}': {text}" if step is not None else text
        self.issues.append(
            Issue(
                field=format_path(path),
                message=message,
                constraint=constraint,
                step=step,
                line=line if line is not None else self.lines.line(path),
                value=_json_value(value),
            )
        )

    def _parent(self, path: PathT) -> str:
        """`"retry.backoff: "` for a key's container, "" at the top level or a step's own level."""
        parent = path[:-1]
        if not parent or (self._step_of(path) is not None and len(parent) == 2):
            return ""
        return f"{self._where(parent)}: "

    def _where(self, path: PathT) -> str:
        """The path as the message shows it: relative to the step when inside a named step."""
        if self._step_of(path) is not None:
            return format_path(path[2:]) or "step"
        return format_path(path) or "definition"

    # -- layer 2: the models

    def check_models(self) -> WorkflowDefinition | None:
        try:
            return WorkflowDefinition.model_validate(self.data)
        except ValidationError as exc:
            self._add_pydantic(exc, (), self.data, WorkflowDefinition)
            return None

    def _add_pydantic(
        self,
        exc: ValidationError,
        prefix: PathT,
        data: Any,
        model: type[BaseModel],
        action: str | None = None,
    ) -> None:
        """Convert pydantic errors to issues; errors of one union (one value, several branches) merge."""
        merged: dict[PathT, tuple[list[str], list[str], Any]] = {}
        order: list[PathT] = []
        for error in exc.errors():
            error_type = str(error.get("type", ""))
            value = error.get("input")
            if action is not None and isinstance(value, str) and templating.is_template(value):
                continue  # a templated parameter is validated after rendering, at run time
            rel, dropped = _clean_loc(tuple(error.get("loc", ())), data, error_type)
            path = (*prefix, *rel)
            message = _plain_message(error)
            if dropped and error_type != "missing" and path in merged:
                merged[path][0].append(error_type)
                merged[path][1].append(message)
                continue
            if dropped and error_type != "missing":
                merged[path] = ([error_type], [message], value)
                order.append(path)
                continue
            self._add_one(path, rel, error_type, message, value, model, action)
        for path in order:
            error_types, messages, value = merged[path]
            if len(messages) == 1:
                self._add_one(path, path[len(prefix) :], error_types[0], messages[0], value, model, action)
                continue
            alternatives = []
            for message in messages:
                short = message.removeprefix("Input should be ")
                if short not in alternatives:
                    alternatives.append(short)
            text = "Input should be " + " or ".join(alternatives)
            kind = "type" if all(_constraint_of(t, "") == "type" for t in error_types) else "value"
            self._add_one(path, path[len(prefix) :], kind, text, value, model, action, constraint=kind)

    def _add_one(
        self,
        path: PathT,
        rel: PathT,
        error_type: str,
        message: str,
        value: Any,
        model: type[BaseModel],
        action: str | None,
        constraint: str | None = None,
    ) -> None:
        constraint = constraint or _constraint_of(error_type, message)
        key = rel[-1] if rel else None
        if action is not None:
            # an action's parameters: one constraint word for the class, the detail in the message
            params = _keys_of_model(model)
            if error_type == "missing":
                text = f"parameter '{key}' is required by action '{action}'"
            elif error_type == "extra_forbidden":
                text = (
                    f"action '{action}' has no parameter '{key}'{_suggest(key, params)}; "
                    f"its parameters are: {', '.join(params)}"
                )
            else:
                text = f"{self._where(path)}: {message} (action '{action}')"
            self.add(path, text, "parameters", value=None if error_type == "missing" else value)
            return
        if error_type == "missing":
            self.add(path, f"{self._parent(path)}`{key}` is required", "required")
            return
        if error_type == "extra_forbidden":
            known = _keys_of_model(_type_at(model, rel[:-1]))
            hint = _suggest(key, known)
            allowed = f"; allowed keys: {', '.join(known)}" if known and not hint else ""
            self.add(path, f"{self._parent(path)}unknown key '{key}'{hint}{allowed}", "extra")
            return
        if len(rel) == 2 and rel[0] == "inputs" and error_type == "value_error":
            # InputSpec's own checks: its default must fit its type; a choice needs options
            name = rel[1]
            if "needs `options`" in message:
                self.add((*path, "options"), f"input '{name}': {message}", "required")
                return
            spec = self.data["inputs"][name] if isinstance(self.data.get("inputs"), dict) else {}
            default = spec.get("default") if isinstance(spec, dict) else None
            kind = "enum" if "must be one of" in message else "type"
            self.add(
                path,
                f"input '{name}': default {default!r} is invalid: {message}",
                kind,
                value=default,
                line=self.lines.line((*path, "default")),
            )
            return
        if constraint == "exclusive":
            self.add(path, message, constraint, line=self.lines.line((*path, "matrix")))
            return
        if "matrix axes" in message:
            self.add((*path, "matrix"), message, constraint)
            return
        self.add(path, f"{self._where(path)}: {message}", constraint, value=value)

    # -- layer 3: meaning

    def check_semantics(self) -> None:
        self._check_triggers()
        self._check_ids_and_dependencies()
        self._check_cycles()
        for index, step in enumerate(self.steps):
            if not isinstance(step, dict):
                continue
            self._check_action(index, step)
            self._check_sandbox(index, step)
            self._check_step_templates(index, step)
        concurrency = self.data.get("concurrency")
        if isinstance(concurrency, dict) and isinstance(concurrency.get("group"), str):
            scope = _Scope(where="concurrency.group", step=None, names=_WORKFLOW_ENV_NAMES, upstream=None)
            self._check_template(("concurrency", "group"), concurrency["group"], scope)
        env = self.data.get("env")
        if isinstance(env, dict):
            scope = _Scope(where="env", step=None, names=_WORKFLOW_ENV_NAMES, upstream=None)
            for key, value in env.items():
                if isinstance(value, str):
                    self._check_template(("env", key), value, scope)

    def _check_triggers(self) -> None:
        triggers = self.data.get("triggers")
        for index, trigger in enumerate(triggers if isinstance(triggers, list) else []):
            if isinstance(trigger, dict) and trigger.get("type") == "schedule" and not trigger.get("cron") \
                    and trigger.get("every") is None:
                self.add(("triggers", index, "cron"), "a schedule trigger needs `cron` (or `every`)", "required")

    def _check_ids_and_dependencies(self) -> None:
        for index, step in enumerate(self.steps):
            step_id = self._id(step)
            if step_id is not None and self.index_of[step_id] != index:
                first = self.index_of[step_id]
                where = self.lines.line(("steps", first, "id"))
                at = f"line {where}" if where is not None else f"steps[{first}]"
                self.add(
                    ("steps", index, "id"),
                    f"duplicate step id '{step_id}' (first defined at {at})",
                    "duplicate",
                    value=step_id,
                )
            raw = step.get("dependsOn") if isinstance(step, dict) else None
            for position, dep in enumerate(raw if isinstance(raw, list) else []):
                if isinstance(dep, str) and dep not in self.index_of:
                    self.add(
                        ("steps", index, "dependsOn", position),
                        f"depends on unknown step '{dep}'{_suggest(dep, self.index_of)}",
                        "unknown_dependency",
                        value=dep,
                    )

    def _check_cycles(self) -> None:
        """Report each cycle once, printed from its earliest-defined step in `dependsOn` direction."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.index_of, white)
        reported: set[tuple[str, ...]] = set()
        for root in self.index_of:
            if color[root] != white:
                continue
            stack: list[tuple[str, Iterator[str]]] = [(root, iter(self.deps[root]))]
            trail = [root]
            color[root] = grey
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    color[node] = black
                    stack.pop()
                    trail.pop()
                elif color[child] == grey:
                    cycle = trail[trail.index(child) :]
                    self._report_cycle(cycle, reported)
                elif color[child] == white:
                    color[child] = grey
                    stack.append((child, iter(self.deps[child])))
                    trail.append(child)

    def _report_cycle(self, cycle: list[str], reported: set[tuple[str, ...]]) -> None:
        start = min(range(len(cycle)), key=lambda i: self.index_of[cycle[i]])
        cycle = cycle[start:] + cycle[:start]
        if tuple(cycle) in reported:
            return
        reported.add(tuple(cycle))
        first, following = cycle[0], cycle[1 % len(cycle)]
        index = self.index_of[first]
        raw = self.steps[index].get("dependsOn")
        position = raw.index(following) if isinstance(raw, list) and following in raw else None
        path: PathT = ("steps", index, "dependsOn") + ((position,) if position is not None else ())
        shown = " -> ".join([*cycle, first])
        self.add(path, f"dependency cycle: {shown} (each step depends on the next)", "cycle", value=following)

    def _upstream(self, step: dict[str, Any]) -> frozenset[str]:
        """Direct and transitive dependencies: the steps whose results exist when `step` runs."""
        step_id = self._id(step)
        seen: set[str] = set()
        todo = [d for d in self._depends_on(step) if d in self.index_of]
        while todo:
            dep = todo.pop()
            if dep not in seen:
                seen.add(dep)
                todo.extend(self.deps.get(dep, []))
        seen.discard(step_id)  # a cycle through itself: still not available
        return frozenset(seen)

    def _check_sandbox(self, index: int, step: dict[str, Any]) -> None:
        """What this server would refuse when the step runs (activities/sandbox.py), said when it is saved: limits
        above the operator's maxima, network against STELLARFLOW_SANDBOX_NETWORK=none. The worker checks again
        (its settings are the ones that count)."""
        raw = step.get("sandbox")
        try:
            spec = SandboxSpec.model_validate(raw) if isinstance(raw, dict) else None
        except ValidationError:
            return  # reported by the model layer
        if spec is None:
            return
        settings = get_settings()
        for key, value, name in spec.limits.above(settings.sandbox_maxima):
            maximum = settings.sandbox_maxima[name]
            self.add(("steps", index, "sandbox", "limits", key),
                     f"sandbox.limits.{key}: {value} is above this server's maximum of {maximum} "
                     f"(STELLARFLOW_SANDBOX_MAX_{name.upper()})", "maximum", value=value)  # fmt: skip
        if spec.network == "on" and settings.sandbox_network == "none":
            self.add(("steps", index, "sandbox", "network"), "sandbox.network: on is not allowed on this server "
                     "(STELLARFLOW_SANDBOX_NETWORK=none)", "not_allowed", value="on")  # fmt: skip

    def _check_action(self, index: int, step: dict[str, Any]) -> None:
        action = step.get("action")
        if not isinstance(action, str):
            return
        if action not in ACTION_PARAMS:
            known = ", ".join(sorted(ACTION_PARAMS))
            self.add(
                ("steps", index, "action"),
                f"unknown action '{action}'{_suggest(action, ACTION_PARAMS)}; known actions: {known}",
                "unknown_action",
                value=action,
            )
            return
        params = step.get("parameters", {})
        if not isinstance(params, dict):
            return  # the model layer reports the wrong type
        model = ACTION_PARAMS[action]
        try:
            model.model_validate(params)
        except ValidationError as exc:
            self._add_pydantic(exc, ("steps", index, "parameters"), params, model, action=action)
        for name in sorted(model.LITERAL & set(params)):
            for path, text in _strings(params[name], ("steps", index, "parameters", name)):
                if templating.is_template(text):
                    self.add(path, f"{name} must be written out, not templated: a run's inputs or a step's "
                                   "output must not decide it", "literal", value=text)

    def _check_step_templates(self, index: int, step: dict[str, Any]) -> None:
        step_id = self._id(step)
        before = self._upstream(step)
        matrix = step.get("matrix")
        axes = frozenset(k for k in matrix if isinstance(k, str)) if isinstance(matrix, dict) else None
        if matrix is not None:
            per_instance = _BASE_NAMES | _MATRIX_NAMES
        elif step.get("forEach") is not None:
            per_instance = _BASE_NAMES | _FOR_EACH_NAMES
        else:
            per_instance = _BASE_NAMES
        base = ("steps", index)

        params = step.get("parameters")
        if isinstance(params, dict):
            scope = _Scope("parameters", step_id, per_instance, before, axes)
            for path, text in _strings(params, (*base, "parameters")):
                self._check_template(path, text, scope)
            if step.get("action") == "execute-command":
                self._check_command(base, params.get("command"))
        concurrency = step.get("concurrency")
        if isinstance(concurrency, dict) and isinstance(concurrency.get("group"), str):
            scope = _Scope("concurrency.group", step_id, _BASE_NAMES, before)
            self._check_template((*base, "concurrency", "group"), concurrency["group"], scope)
        condition = step.get("if")
        if isinstance(condition, str):
            scope = _Scope("if", step_id, _BASE_NAMES, before, expression=True)
            self._check_template((*base, "if"), condition, scope)
        for_each = step.get("forEach")
        if isinstance(for_each, str):
            scope = _Scope("forEach", step_id, _BASE_NAMES, before, expression=True)
            self._check_template((*base, "forEach"), for_each, scope)
        outputs = step.get("outputs")
        if isinstance(outputs, dict):
            scope = _Scope("outputs", step_id, per_instance | {"result"}, before, axes)
            for key, text in outputs.items():
                if isinstance(text, str):
                    self._check_template((*base, "outputs", key), text, scope)

    def _check_command(self, base: PathT, command: Any) -> None:
        """Templated values reach a shell command as environment variables (core/dsl/shell.py); where that cannot
        be made safe, say so here, with the safe form, rather than fail the run."""
        path: PathT = (*base, "parameters", "command")
        if isinstance(command, str):
            for lineno, problem in templating.shell_template_problems(command):
                line = self.lines.template_line(path, lineno)
                self.add(path, f"{self._where(path)} (line {lineno}): {problem}", "shell_template", line=line)
        elif isinstance(command, list):
            for index, problem in templating.argv_template_problems(command):
                self.add((*path, index), f"{self._where((*path, index))}: {problem}", "shell_template")

    def _check_template(self, path: PathT, text: str, scope: _Scope) -> None:
        if not scope.expression and not templating.is_template(text):
            return
        where = self._where(path)
        try:
            ast = templating.parse(text, expression=scope.expression)
            # compiling finds what parsing does not: unknown filters and tests (TemplateAssertionError)
            undeclared = meta.find_undeclared_variables(ast)
        except TemplateSyntaxError as exc:
            self.add(
                path,
                f"template syntax error in {where}: {exc.message}",
                "template_syntax",
                value=text,
                line=self.lines.template_line(path, exc.lineno),
            )
            return
        allowed = scope.names | frozenset(DEFAULT_NAMESPACE)
        lines_of = _name_lines(ast)
        for name in sorted(undeclared - allowed):
            line = self.lines.template_line(path, lines_of.get(name))
            if name == "steps" and scope.upstream is None:
                text_ = f"{where} cannot reference `steps`: it is rendered before any step has run"
                self.add(path, text_, "not_upstream", value=name, line=line)
            else:
                self.add(path, f"{where}: {_unknown_name(name, scope)}", "unknown_variable", value=name, line=line)
        for base, key, lineno in _references(ast):
            if base not in undeclared or base not in allowed:
                continue  # shadowed by a template-local variable, or already reported as unknown
            line = self.lines.template_line(path, lineno)
            if base == "inputs" and key not in self.input_names:
                declared = ", ".join(self.input_names) or "none"
                self.add(
                    path,
                    f"{where} references unknown input '{key}'{_suggest(key, self.input_names)}; "
                    f"declared inputs: {declared}",
                    "unknown_reference",
                    value=key,
                    line=line,
                )
            elif base == "steps" and key not in self.index_of:
                hyphenated = sorted(s for s in self.index_of if s.startswith(f"{key}-"))
                if hyphenated:
                    hint = f" (write hyphenated ids as steps['{hyphenated[0]}'], not steps.{hyphenated[0]})"
                else:
                    hint = _suggest(key, self.index_of)
                self.add(
                    path, f"{where} references unknown step '{key}'{hint}", "unknown_reference", value=key, line=line
                )
            elif base == "steps" and scope.upstream is not None and key not in scope.upstream:
                if key == scope.step:
                    why = "its own results do not exist yet" + (
                        "; use `result` in outputs" if scope.where == "outputs" else ""
                    )
                else:
                    why = f"add it to dependsOn, or its outputs may not exist when {where} is rendered"
                self.add(
                    path,
                    f"{where} references step '{key}', which is not upstream of this step: {why}",
                    "not_upstream",
                    value=key,
                    line=line,
                )
            elif base == "matrix" and scope.matrix_axes is not None and key not in scope.matrix_axes:
                axes = ", ".join(sorted(scope.matrix_axes))
                self.add(
                    path,
                    f"{where} references unknown matrix axis '{key}'; axes: {axes}",
                    "unknown_reference",
                    value=key,
                    line=line,
                )

    def result(self) -> list[Issue]:
        """Issues in file order (unlocated ones last), each reported once."""
        unique: dict[tuple[str, str, str], Issue] = {}
        for issue in self.issues:
            unique.setdefault((issue.field, issue.constraint, issue.message), issue)
        return sorted(unique.values(), key=lambda i: (i.line is None, i.line or 0))


def _strings(value: Any, path: PathT) -> Iterator[tuple[PathT, str]]:
    """Every string inside nested dicts and lists, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _name_lines(ast: nodes.Node) -> dict[str, int]:
    """First template line on which each loaded name appears."""
    found: dict[str, int] = {}
    for name in ast.find_all(nodes.Name):
        if name.ctx == "load":
            found.setdefault(name.name, name.lineno)
    return found


def _references(ast: nodes.Node) -> list[tuple[str, str, int]]:
    """`steps.x`, `steps['x']`, `inputs.y`, `matrix.z` with a constant key: (base, key, template line)."""
    found: dict[tuple[str, str], int] = {}
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not (isinstance(target, nodes.Name) and target.ctx == "load"):
            continue
        if target.name not in {"steps", "inputs", "matrix"}:
            continue
        if isinstance(node, nodes.Getattr):
            key: Any = node.attr
        elif isinstance(node.arg, nodes.Const):
            key = node.arg.value
        else:
            continue  # a computed key cannot be checked before run time
        if isinstance(key, str):
            found.setdefault((target.name, key), node.lineno)
    return [(base, key, line) for (base, key), line in found.items()]


def _unknown_name(name: str, scope: _Scope) -> str:
    """Why `name` is not available here, in words."""
    if name == "result":
        return "`result` is only available in a step's `outputs` (it is that step's raw outputs)"
    if scope.step is None and name == "env":
        return "the workflow env cannot reference `env`: it is rendered first, from inputs and run only"
    if name in _FAN_OUT_NAMES:
        if scope.where in {"if", "forEach"}:
            return f"`{name}` is not defined in `{scope.where}`: it is evaluated once for the whole step"
        if name == "item":
            return "`item` is only defined in a step with forEach" + (
                " (a matrix step has `matrix.<axis>`)" if "matrix" in scope.names else ""
            )
        if name == "matrix":
            return "`matrix` is only defined in a step with matrix" + (
                " (a forEach step has `item`)" if "item" in scope.names else ""
            )
        return f"`{name}` is only defined in a step with forEach or matrix"
    known = sorted(scope.names)
    return f"unknown variable '{name}'{_suggest(name, known)}; available: {', '.join(known)}"


# ---- public API -----------------------------------------------------------------------------------------


def parse_definition(data: dict[str, Any] | str, *, source: str | None = None,
                     limits: DefinitionLimits | None = None) -> WorkflowDefinition:
    """Validate a definition (a dict, or YAML/JSON text) and return it; DefinitionError lists every issue.

    `source` names the file or request in messages (`deploy.yaml:12: ...`); `limits` default to the settings'."""
    limits = limits or DefinitionLimits.from_settings()
    lines = _LineMap()
    issues: list[Issue] = []
    if isinstance(data, str):
        size = len(data.encode("utf-8", errors="replace"))
        if size > limits.max_bytes:
            raise DefinitionError([_too_large(f"{size} bytes", limits)], source)
        data, lines, issues = _load_yaml(data, source, limits)
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise DefinitionError(
            [Issue("", f"a workflow definition must be a mapping (got {kind})", "type", line=lines.line(()))],
            source,
        )
    over = _measure(data, limits)
    if over is not None:
        if over.field == "steps":
            over.line = lines.line(("steps",))
        raise DefinitionError([over], source)
    checker = _Checker(data, lines)
    checker.issues.extend(issues)
    definition = checker.check_models()
    checker.check_semantics()
    found = checker.result()
    if definition is not None and not found:
        found = _trigger_input_issues(definition, lines)
    if found or definition is None:
        raise DefinitionError(found or [Issue("", "invalid workflow definition", "value")], source)
    return definition


def _trigger_input_issues(definition: WorkflowDefinition, lines: _LineMap) -> list[Issue]:
    """The inputs a trigger gives its runs must be what the definition declares (a scheduled run has nobody to
    supply a required input; other triggers' given values must have the declared types)."""
    found: list[Issue] = []
    for index, trigger in enumerate(definition.triggers):
        if trigger.type in ("manual", "api"):
            continue
        try:
            if trigger.type == "schedule":
                resolve_inputs(definition, trigger.inputs)
            else:
                resolve_inputs(definition.model_copy(update={"inputs": {
                    name: spec.model_copy(update={"required": False}) for name, spec in definition.inputs.items()}}),
                    trigger.inputs)
        except DefinitionError as err:
            for issue in err.issues:
                path: PathT = ("triggers", index, *issue.field.split("."))
                found.append(Issue(format_path(path), f"triggers[{index}]: {issue.message}", issue.constraint,
                                   line=lines.line(path), value=issue.value))
    return found


def load_file(path: str | Path) -> WorkflowDefinition:
    """Read and validate one definition file. An unreadable file is a DefinitionError too."""
    path = Path(path)
    limits = DefinitionLimits.from_settings()
    try:
        if path.stat().st_size > limits.max_bytes:  # refused unread
            raise DefinitionError([_too_large(f"{path.stat().st_size} bytes", limits)], str(path))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DefinitionError([Issue("", f"cannot read the file: {reason}", "file")], str(path)) from exc
    return parse_definition(text, source=str(path), limits=limits)


def _expand(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file())
        else:
            yield path


def validate_files(paths: Iterable[str | Path]) -> list[tuple[Path, DefinitionError | None]]:
    """Validate many files (a directory stands for its *.yaml/*.yml files). Never raises for a bad file:
    each result is (path, None) when valid, else (path, the error with all its issues)."""
    results: list[tuple[Path, DefinitionError | None]] = []
    for path in _expand(paths):
        try:
            load_file(path)
        except DefinitionError as exc:
            results.append((path, exc))
        except Exception as exc:  # a validator must report, not crash, whatever the file holds
            issue = Issue("", f"internal error while validating: {exc!r}", "internal")
            results.append((path, DefinitionError([issue], str(path))))
        else:
            results.append((path, None))
    return results


def resolve_inputs(defn: WorkflowDefinition, given: Mapping[str, Any]) -> dict[str, Any]:
    """The run's inputs: `given` coerced to the declared types (CLI strings become numbers, booleans...),
    defaults applied, undeclared inputs resolved to None. Every problem is reported together."""
    issues: list[Issue] = []
    resolved: dict[str, Any] = {}
    for name in given:
        if name not in defn.inputs:
            declared = ", ".join(defn.inputs) or "none"
            issues.append(
                Issue(
                    field=f"inputs.{name}" if _IDENT.match(str(name)) else format_path(("inputs", str(name))),
                    message=f"unknown input '{name}'{_suggest(name, defn.inputs)}; declared inputs: {declared}",
                    constraint="unknown_input",
                    value=_json_value(given[name]),
                )
            )
    for name, spec in defn.inputs.items():
        value = given.get(name)
        field_name = format_path(("inputs", name))
        if value is None:
            if spec.default is not None:
                resolved[name] = spec.default
            elif spec.required:
                issues.append(Issue(field_name, f"input '{name}' is required", "required"))
            else:
                resolved[name] = None
            continue
        try:
            resolved[name] = coerce_input(spec, value)
        except ValueError as exc:
            constraint = "enum" if spec.type == "choice" else "type"
            issues.append(
                Issue(field_name, f"input '{name}' ({_describe(spec)}): {exc}", constraint, value=_json_value(value))
            )
    if issues:
        raise DefinitionError(issues)
    return resolved


def _describe(spec: InputSpec) -> str:
    if spec.type == "choice":
        return f"one of {spec.options}"
    return spec.type
