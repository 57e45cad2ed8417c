"""Operator commands that work on the database directly, not through the API: `bootstrap`, `users create|list|
set-role|reset-password|disable|enable`, `db upgrade`, `db revision`, `reconcile`.

They need no running stack and no credential — only access to the data dir and the database — which is how the
operator prepares an installation and creates users before anyone can sign in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from cli.output import Column, OutputOption, console, emit, err_console
from cli.overrides import apply_overrides

T = TypeVar("T")
users_app = typer.Typer(pretty_exceptions_enable=False, help="Users (on the database directly).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `bootstrap` and the `users` group to the app."""
    app.command()(bootstrap)
    app.add_typer(users_app, name="users")
    app.add_typer(db_app, name="db")
    app.command()(reconcile)


def bootstrap(
    data_dir: Annotated[Path | None, typer.Option(help="where the data dir lives")] = None,
) -> None:
    """Prepare the database for the API and the workers, then exit: create missing tables, check the server secret,
    create the first admin (its password is printed once) and load the definitions directory. Safe to run on every
    deploy (docker-compose.yml runs it before anything else starts). Example: `stellarflow bootstrap`"""
    apply_overrides(data_dir=data_dir)
    from core.auth.bootstrap import bootstrap as bootstrap_installation
    from core.auth.secret import SecretError
    from core.pipelines.definitions import load_directory
    from core.settings import get_settings

    settings = get_settings()
    try:
        result = bootstrap_installation(settings)  # tables first (create_all), then the secret and the admin
    except SecretError as error:
        err_console.print(f"[red]✗[/] {error}", markup=True)
        raise typer.Exit(2) from None
    console.print("[green]✓[/] database tables ready")
    if result.admin is not None:
        console.print(f"[green]✓[/] created the admin user [bold]{result.admin.username}[/] — its password is shown "
                      "once, keep it now:")
        print(result.password, flush=True)
    else:
        console.print("[green]✓[/] an admin exists already")
    if result.cli_key_file is not None:
        console.print(f"✓ wrote an admin API key for the CLI to {result.cli_key_file}", markup=False, highlight=False)
    loaded = load_directory(settings.definitions_dir)  # invalid files are reported and skipped, as the API does
    problems = [(path, problem) for path, problem in loaded if problem is not None]
    console.print(f"✓ {len(loaded) - len(problems)} definition(s) loaded from {settings.definitions_dir}",
                  markup=False, highlight=False)
    for path, problem in problems:
        err_console.print(f"! {path} was not loaded: {problem}", markup=False, highlight=False)


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
    (--prompt-password), or is generated and printed once. Example:
    `stellarflow users create alice --role viewer --prompt-password`"""
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


def _done(action: Callable[[], T]) -> T:
    """Run an administration call; a domain error becomes one line and exit code 2."""
    from core.errors import DomainError

    try:
        return action()
    except DomainError as error:
        err_console.print(f"[red]✗[/] {error.code}: {error.message}", markup=True)
        for detail in error.details or []:
            err_console.print(f"  - {detail.get('field')}: {detail.get('message')}", markup=False)
        raise typer.Exit(2) from None


@users_app.command("list")
def users_list(
    output: OutputOption = "table",
    data_dir: Annotated[Path | None, typer.Option(help="where the database lives")] = None,
) -> None:
    """List every user: id, name, role, tier, whether disabled. Example: `stellarflow users list -o json`"""
    apply_overrides(data_dir=data_dir)
    from core.auth.admin import list_users

    everyone = [user.model_dump(mode="json") for user in _done(list_users)]
    emit(everyone, output, [
        Column("id", lambda u: u["id"], identifier=True),
        Column("username", lambda u: u["username"]),
        Column("role", lambda u: u["role"]),
        Column("tier", lambda u: u["tier"]),
        Column("disabled", lambda u: "yes" if u["disabled"] else ""),
    ])


@users_app.command("set-role")
def users_set_role(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    role: Annotated[str, typer.Argument(metavar="ROLE", help="admin, developer or viewer")],
    data_dir: Annotated[Path | None, typer.Option(help="where the database lives")] = None,
) -> None:
    """Give a user another role; it applies to their next request. Example: `stellarflow users set-role ana viewer`"""
    apply_overrides(data_dir=data_dir)
    from core.auth.admin import set_role

    user = _done(lambda: set_role(username, role))
    console.print(f"[green]✓[/] {user.username} ({user.id}) is now {user.role}")


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    prompt_password: Annotated[bool, typer.Option(help="type the password instead of generating one")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="where the database lives")] = None,
) -> None:
    """Set a new password (STELLARFLOW_NEW_PASSWORD, a prompt, or generated and printed once) and sign the user out
    everywhere. Example: `stellarflow users reset-password ana`"""
    apply_overrides(data_dir=data_dir)
    from core.auth import passwords
    from core.auth.admin import reset_password

    password = os.environ.get("STELLARFLOW_NEW_PASSWORD") or None
    if password is None and prompt_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    generated = password is None
    password = password or passwords.generate()
    user = _done(lambda: reset_password(username, password))
    console.print(f"[green]✓[/] new password for {user.username} ({user.id}); their sessions were ended")
    if generated:
        console.print("  password (shown once, keep it now):", highlight=False)
        print(password, flush=True)


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    data_dir: Annotated[Path | None, typer.Option(help="where the database lives")] = None,
) -> None:
    """Stop a user: no sign-in, and their tokens and API keys are refused from the next request.
    Example: `stellarflow users disable ana`"""
    apply_overrides(data_dir=data_dir)
    from core.auth.admin import set_disabled

    user = _done(lambda: set_disabled(username, True))
    console.print(f"[green]✓[/] {user.username} ({user.id}) is disabled")


@users_app.command("enable")
def users_enable(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    data_dir: Annotated[Path | None, typer.Option(help="where the database lives")] = None,
) -> None:
    """Let a disabled user back in. Example: `stellarflow users enable ana`"""
    apply_overrides(data_dir=data_dir)
    from core.auth.admin import set_disabled

    user = _done(lambda: set_disabled(username, False))
    console.print(f"[green]✓[/] {user.username} ({user.id}) is enabled")


db_app = typer.Typer(pretty_exceptions_enable=False, help="The database: migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    data_dir: Annotated[Path | None, typer.Option(help="where the data dir lives (the SQLite database)")] = None,
) -> None:
    """Apply the migrations the database (DATABASE_URL, or SQLite in the data dir) has not had. Every process also
    does this when it starts; run it alone first when you deploy (docker-compose.yml's bootstrap job does).
    Example: `DATABASE_URL=postgresql+psycopg://… stellarflow db upgrade`"""
    apply_overrides(data_dir=data_dir)
    from core.settings import get_settings
    from core.system.startup import upgrade_database

    settings = get_settings()
    before, after = upgrade_database(settings.db_url)
    where = settings.db_url.split("@")[-1] if "@" in settings.db_url else settings.db_url
    if before == after:
        console.print(f"✓ {where} is at revision {after} (current)", markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(f"✓ {where} migrated from {before or 'an unversioned database'} to {after}", markup=False,
                      highlight=False, soft_wrap=True)


@db_app.command("revision")
def db_revision(
    data_dir: Annotated[Path | None, typer.Option(help="where the data dir lives (the SQLite database)")] = None,
) -> None:
    """Print the database's migration revision and the code's; exit 1 when the database is behind. Example:
    `stellarflow db revision`"""
    apply_overrides(data_dir=data_dir)
    from core.settings import get_settings
    from core.system.startup import database_revision

    current, head = database_revision(get_settings().db_url)
    console.print(f"database {current or '(none)'}, code {head}", markup=False, highlight=False)
    if current != head:
        raise typer.Exit(1)


def reconcile(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report what is wrong, change nothing")] = False,
    kind: Annotated[list[str] | None, typer.Option(help="only these: run, agent, task, swarm (repeatable)")] = None,
    id_: Annotated[list[str] | None, typer.Option("--id", help="only these resource ids (repeatable)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="where the data dir lives (the SQLite database)")] = None,
) -> None:
    """Rebuild the run and entity projections from Temporal: rows that are missing or whose status disagrees with
    the workflow's are rewritten from the workflow's own state; rows Temporal does not know are reported. A worker
    must be running (closed workflows are read by replaying them). Temporal runs the same daily (a Schedule).
    Example: `stellarflow reconcile --dry-run --kind run`"""
    import asyncio

    apply_overrides(data_dir=data_dir)
    from core.reconcile.service import reconcile as run_reconcile
    from core.settings import get_settings
    from core.temporal import connect

    async def go():
        return await run_reconcile(await connect(get_settings()), dry_run=dry_run, kinds=kind or None,
                                   only=id_ or None)

    report = asyncio.run(go())
    plain = {"markup": False, "highlight": False, "soft_wrap": True}
    for fix in report.fixes:
        was = f"was {fix.before}" if fix.before else "was missing"
        console.print(f"  {fix.kind} {fix.id}: {fix.action} ({was}; now {fix.after}; Temporal: {fix.temporal})",
                      **plain)
    for name, ids in report.orphans.items():
        shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        console.print(f"  {len(ids)} {name} row(s) Temporal does not know (past retention?): {shown}", **plain)
    for error in report.errors:
        err_console.print(f"  ! {error}", **plain)
    console.print(("✓ " if not report.errors else "! ") + report.summary(), **plain)
    if report.errors:
        raise typer.Exit(1)
