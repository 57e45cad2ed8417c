"""Operator commands that work on the database directly, not through the API: `users create`.

They need no running stack and no credential — only access to the data dir — which is how the operator
creates users before anyone can sign in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cli.output import console, err_console
from cli.overrides import apply_overrides

users_app = typer.Typer(pretty_exceptions_enable=False, help="Users (on the database directly).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `users` group to the app."""
    app.add_typer(users_app, name="users")


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin, developer or viewer")] = "developer",
    email: Annotated[str | None, typer.Option()] = None,
    full_name: Annotated[str | None, typer.Option()] = None,
    tier: Annotated[str, typer.Option(help="free, pro or enterprise (rate limits and quotas)")] = "free",
    prompt_password: Annotated[bool, typer.Option(help="type the password instead of generating one")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="where the database lives")] = None,
) -> None:
    """Create a user in the database. The password comes from STELLARFLOW_NEW_PASSWORD, a prompt
    (--prompt-password), or is generated and printed once."""
    apply_overrides(data_dir=data_dir)
    from core.auth import passwords, users
    from core.errors import DomainError

    password = os.environ.get("STELLARFLOW_NEW_PASSWORD") or None
    if password is None and prompt_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    generated = password is None
    password = password or passwords.generate()
    try:
        user = users.create_user(username, password, email=email, full_name=full_name, role=role, tier=tier)
    except DomainError as error:
        err_console.print(f"[red]✗[/] {error.code}: {error.message}", markup=True)
        for detail in error.details or []:
            err_console.print(f"  - {detail.get('field')}: {detail.get('message')}", markup=False)
        raise typer.Exit(2) from None
    console.print(f"[green]✓[/] user [bold]{user.username}[/] ({user.id}), role {user.role}, tier {user.tier}")
    if generated:
        console.print("  password (shown once, keep it now):", highlight=False)
        print(password, flush=True)
