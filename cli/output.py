"""How every command prints: the rich consoles, the colours of statuses, and `emit` for reads.

One pair of consoles for the whole CLI: results go to stdout, failures to stderr, so scripts can tell them apart.
Reads take `--output table|json|yaml`. A table on a terminal fits its width (long cells wrap; ids never shrink,
since they are pasted into other commands); piped, it is plain tab-separated text with a header line, whole
values, no colour — ready for `cut`, `awk` or `column -t`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)

STATUS_STYLE = {"succeeded": "green", "failed": "red", "running": "cyan", "pending": "dim",
                "skipped": "yellow", "cancelled": "magenta"}

OUTPUTS = ("table", "json", "yaml")
OutputOption = Annotated[str, typer.Option("--output", "-o", help="table, json or yaml", metavar="FORMAT")]


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], Any]
    identifier: bool = False  # never wrapped or shortened
    status: bool = False  # coloured by STATUS_STYLE on a terminal


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def emit(items: Sequence[dict[str, Any]] | dict[str, Any], output: str, columns: Sequence[Column],
         *, title: str | None = None) -> None:
    """Print API objects as the user asked: json and yaml print them whole (as the API returned them)."""
    if output not in OUTPUTS:
        raise typer.BadParameter(f"--output must be one of {', '.join(OUTPUTS)}, not {output!r}")
    if output == "json":
        print(json.dumps(items, indent=2), flush=True)
        return
    if output == "yaml":
        import yaml

        print(yaml.safe_dump(items, sort_keys=False, allow_unicode=True), end="", flush=True)
        return
    rows = [items] if isinstance(items, dict) else list(items)
    if not console.is_terminal:
        if title:
            print(f"# {title}")
        print("\t".join(column.header for column in columns))
        for row in rows:
            print("\t".join(_text(column.value(row)).replace("\t", " ").replace("\n", " ") for column in columns))
        return
    table = Table(title=title, expand=False)
    for column in columns:
        table.add_column(column.header, no_wrap=column.identifier, overflow="fold",
                         min_width=len(column.header) if not column.identifier else None)
    for row in rows:
        cells = []
        for column in columns:
            text = _text(column.value(row))
            cells.append(Text(text, style=STATUS_STYLE.get(text, "") if column.status else ""))  # never markup
        table.add_row(*cells)
    console.print(table)
