"""`--help` reads like a manual: placeholders say what to type (TEXT, INTEGER, KEY=VALUE, RUN_ID), never Python
types (`<bool>`, `<list[str]>`) or `{braces}`, and every command says what it does and shows an example."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli import app

pytestmark = pytest.mark.database("sqlite", reason="help text: no database")
PYTHON_TYPES = re.compile(r"<(bool|str|int|float|list\[[a-z]+\]|Path)>|\{[a-z_]+\}")


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if hasattr(command, "commands"):  # a group (typer's own, not click.Group)
            found += _commands(command, (*prefix, name))
    return found


def test_every_help_page_has_real_placeholders_and_a_description() -> None:
    runner = CliRunner()
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert ("runs", "approve") in commands and ("users", "set-role") in commands
    for path in commands:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (path, result.output)
        assert not PYTHON_TYPES.search(result.output), (path, result.output)
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        assert (command.help or "").strip(), f"`stellarflow {' '.join(path)}` has no description"
        if not hasattr(command, "commands"):  # a command, not a group: it shows how it is used
            assert "Example:" in (command.help or ""), f"`stellarflow {' '.join(path)}` has no example"
    run_help = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "100"}).output
    assert "KEY=VALUE" in run_help and "FILE_OR_ID" in run_help and "Example:" in run_help
