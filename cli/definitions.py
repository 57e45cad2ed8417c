"""Definition tooling that needs neither the API nor the database: `validate` and `schema` work offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.output import console, err_console


def register(app: typer.Typer) -> None:
    """Add `validate` and `schema` to the app, in the order `--help` lists them."""
    app.command()(validate)
    app.command()(schema)


def validate(files: Annotated[list[Path], typer.Argument(help="definition files")]) -> None:
    """Validate definitions; exits non-zero if any has an error. Example: `stellarflow validate definitions/*.yaml`"""
    from core.dsl.validate import validate_files

    failed = 0
    for path, error in validate_files(files):
        if error is None:
            console.print(f"[green]✓[/] {path}")
        else:
            failed += 1
            err_console.print(f"[red]✗[/] {path}")
            err_console.print(str(error), markup=False, highlight=False)
    raise typer.Exit(1 if failed else 0)


def schema() -> None:
    """Print the JSON Schema of workflow definitions (also at docs/workflow.schema.json). Example:
    `stellarflow schema > workflow.schema.json`"""
    from core.dsl.schema import render_schema

    sys.stdout.write(render_schema())
