"""Placeholders in `--help` that say what to type, not which Python type the parameter has.

typer (0.29) prints `<bool>` beside every flag, `<list[str]>` beside repeatable options and `{run_id}` for required
arguments. Users read those as syntax. Here, once, before any help is drawn: a flag shows no placeholder, an option
shows its metavar or a conventional one (TEXT, INTEGER, NUMBER, PATH; `…` when repeatable; choices as `a|b`), and
the usage line names arguments as `RUN_ID` (required) or `[RUN_ID]`. tests/test_cli_help.py fails if a typer
upgrade changes the hooks this relies on.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

CONVENTIONAL = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "bool": "", "Path": "PATH", "datetime": "TIME"}


def _placeholder(param: Any, ctx: Any) -> str | None:
    if param.metavar is not None:
        return param.metavar or None
    if getattr(param, "is_flag", False) or getattr(param, "is_bool_flag", False):
        return None
    shown = param.display_type(ctx).strip("<>")
    repeatable = shown.startswith("list[") and shown.endswith("]")
    if repeatable:
        shown = shown[5:-1]
    shown = CONVENTIONAL.get(shown, shown) if "|" not in shown else shown
    if not shown:
        return None
    return f"{shown}…" if repeatable else shown


def _usage_name(self: TyperArgument) -> str:
    name = (self.metavar or self.name or "").upper()
    name = name if self.required else f"[{name}]"
    return f"{name}…" if self.nargs != 1 else name


def install() -> None:
    TyperOption.display_type_rich = _placeholder  # type: ignore[method-assign]
    TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]  # the name says it
    TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
    TyperArgument._rich_display_name = lambda self: (self.metavar or self.name or "").upper()  # type: ignore
