"""The rich consoles every command prints through, and the colours of run and step statuses.

One pair of consoles for the whole CLI: results go to stdout, failures to stderr, so scripts can tell them apart.
"""

from __future__ import annotations

from rich.console import Console

console = Console()
err_console = Console(stderr=True)

STATUS_STYLE = {"succeeded": "green", "failed": "red", "running": "cyan", "pending": "dim",
                "skipped": "yellow", "cancelled": "magenta"}
